"""`python -m bmsync.cli`: the `bmsync` command."""

import sys

from bmsync.cli.startup import entry

sys.exit(entry())
