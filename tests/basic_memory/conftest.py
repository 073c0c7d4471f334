"""basic-memory's own `bm` on bmsync: run only where basic-memory is installed.

basic-memory needs Python 3.12 or newer and pulls in a large tree of packages, so these tests
run in the venv `scripts/test-basic-memory` builds (basic-memory 0.24.1 from PyPI and this
checkout). Anywhere else (the 3.11 venv of `scripts/test`) the folder is not collected.
"""

from __future__ import annotations

import importlib.util
import sys

collect_ignore_glob: list[str] = []
if sys.version_info < (3, 12) or importlib.util.find_spec("basic_memory") is None:
    collect_ignore_glob.append("test_*.py")
