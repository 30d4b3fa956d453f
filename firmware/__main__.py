"""`python -m firmware` is the `tipring` command."""
import sys

from firmware.cli import main

sys.exit(main())
