"""``python -m melodyrnn.cli``."""

import sys

from melodyrnn.cli import main

sys.exit(main())
