"""``python -m sr_keras``: the command line."""

import sys

from sr_keras.cli import main

sys.exit(main())
