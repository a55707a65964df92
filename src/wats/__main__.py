"""``python -m wats`` is the ``wats`` command."""

import sys

from wats.cli import main

sys.exit(main())
