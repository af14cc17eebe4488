"""``python -m numsnn`` runs the ``numsnn`` command."""

import sys

from numsnn.cli import main

sys.exit(main())
