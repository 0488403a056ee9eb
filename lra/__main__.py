"""`python -m lra`: see lra/cli.py."""

import sys

from .cli import main

sys.exit(main())
