"""``python3 -m xentspec``: the same command line as the ``xentspec`` script."""

import sys

from xentspec.cli import main

sys.exit(main())
