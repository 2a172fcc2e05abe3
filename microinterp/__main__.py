"""`python -m microinterp` is the `microinterp` command."""
import sys

from .cli import main

sys.exit(main())
