"""`python -m bmsync.integrations.basic_memory ARGS...` is `bm ARGS...` on bmsync (`cli.py`)."""

from bmsync.integrations.basic_memory.cli import main

raise SystemExit(main())
