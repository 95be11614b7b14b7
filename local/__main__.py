"""`python -m local` (behind `make dev`): the whole backend on loopback until Ctrl-C."""

import sys

from local.cli import main

if __name__ == "__main__":
    sys.exit(main())
