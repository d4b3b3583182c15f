"""`python -m swiftgan ...` runs the `swiftgan` command."""
import sys

from .cli import main

sys.exit(main())
