"""Moved to bot.bench.answers (`toprank bench`, shipped with the package); this shim keeps
`python -m tests.bench ...` working from a checkout."""

import sys

from toprank.bot.bench.answers import main

if __name__ == "__main__":
    sys.exit(main())
