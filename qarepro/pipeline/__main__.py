"""`python -m qarepro.pipeline <command> ...` (the same commands as `qarepro <command>`)."""

import sys

from .commands import main

sys.exit(main())
