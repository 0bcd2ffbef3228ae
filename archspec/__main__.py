"""`python -m archspec` is the `archspec` command."""

import sys

from .cli import main

sys.exit(main())
