"""`python -m firmware` from a checkout is the `tipring` command (the code is `tipring.firmware`)."""
import sys

from tipring.firmware.cli import main

sys.exit(main())
