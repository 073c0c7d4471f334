"""The `bmsync` command: parsing, running, start-up and rendering; no sync logic.

    parser.py     every subcommand, its arguments and their help texts
    handlers.py   each subcommand's arguments onto its library call, its result onto an Outcome
    runner.py     an Outcome or an error to the output and the exit code (the only exit codes)
    startup.py    `entry`: the process's quick start and quick exit
    __main__.py   `python -m bmsync.cli`
    terminal.py   all output: the result, live progress, each action, the log
    rich_view.py  what rich draws (imported only when something is drawn)
    jsontext.py   every `--json` object as strict UTF-8 JSON, names that are not UTF-8 included

Each command is imported only when it runs, so `bmsync --help` and `bmsync --version` load
neither the S3 client nor the snapshot store.
"""

from __future__ import annotations

from bmsync.cli.parser import build_parser, parse_headers
from bmsync.cli.startup import entry, main

__all__ = ["build_parser", "entry", "main", "parse_headers"]
