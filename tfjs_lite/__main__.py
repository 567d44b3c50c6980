"""``python -m tfjs_lite``: the same as the ``tfjs-lite`` command."""

import sys

from tfjs_lite.cli import main

sys.exit(main())
