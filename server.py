"""Thin entry point: ``python server.py --help``. Everything lives in the kuaichu package."""

import sys

from kuaichu.cli import main

if __name__ == "__main__":
    sys.exit(main())
