"""`python -m keras_nst` is the `keras-nst` command."""

import sys

from keras_nst.cli import main

sys.exit(main())
