"""Allow ``python -m dataeff``."""

import sys

from dataeff.cli import main

sys.exit(main())
