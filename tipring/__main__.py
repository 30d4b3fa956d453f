"""`python -m tipring` is the `tipring` command."""
import sys

from tipring.firmware.cli import main

sys.exit(main())
