"""``python -m facecam_kit``: see :mod:`facecam_kit.cli`."""

import sys

from facecam_kit.cli import main

if __name__ == "__main__":
    sys.exit(main())
