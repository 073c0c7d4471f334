"""Start-up and exit of the `bmsync` process: what makes a command start and stop quickly.

Only the command line does these things (a library caller keeps its interpreter as it is): the
engine imported with the cyclic collector paused, aiohttp's CA certificates loaded on a thread,
SIGTERM handled as Ctrl-C (`bmsync.cli.runner`), and an exit that skips the teardown.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from bmsync.cli import jsontext
from bmsync.cli.parser import UsageError, build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run its command to an exit code.

    The handlers and the runner (and with it asyncio, 20 ms) are imported only once the
    arguments parsed: `--help` and `--version` end inside the parser without them.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    jsontext.escape_unwritable()  # a name that is not UTF-8 never ends in a traceback
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        from bmsync.cli.runner import fail

        # argparse has not said whether --json was given; the raw arguments do.
        return fail(err, "--json" in argv)
    from bmsync.cli.handlers import COMMANDS
    from bmsync.cli.runner import run_command

    return run_command(COMMANDS[args.command], args)


def entry() -> int:
    """The `bmsync` command: `main`, then an exit that skips the interpreter's teardown.

    Tearing down the ~800 modules and ~110,000 objects a sync loads (botocore's S3 model,
    SQLAlchemy, aiohttp) took 0.15-0.3 s here, after the work was done: a fifth of a small
    project's whole run. By the time `main` returns there is nothing left for it to do: every
    snapshot transaction is committed and the database closed, the event loop has finished and
    joined its worker threads. So the standard streams are flushed, the `atexit` handlers run
    (logging's flush among them) and the process leaves with `os._exit`. When another thread is
    still alive, or `main` is used as a library call, the usual exit is kept.

    The command also lets aiohttp's import leave the CA certificates of its default TLS
    contexts, which bmsync never uses, to a thread (`s3/cacerts.py`): about 55 ms of start-up;
    and a syncing command imports its engine with the cyclic collector paused (`_load_engine`).
    """
    from bmsync.s3 import cacerts

    cacerts.defer_for_this_process()
    if _command_of(sys.argv[1:]) in _ENGINE_COMMANDS:
        _load_engine()
    code = main()
    if threading.active_count() == 1:
        _exit_now(code)
    return code


_ENGINE_COMMANDS = frozenset(
    {"sync", "push", "pull", "mirror", "prune", "check", "sync-all", "watch"}
)
"""The commands that open a snapshot and an S3 client, whatever their options."""
_ENGINE_MODULES = ("bmsync.s3.remote", "bmsync.state.store", "bmsync.commands.run_pair")


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` runs; None when it only asks for help."""
    if "-h" in argv or "--help" in argv:
        return None
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _load_engine() -> None:
    """Import what a syncing command will load anyway, with the cyclic collector paused, then
    freeze what was loaded.

    Importing SQLAlchemy, botocore, aiohttp and bmsync makes about 250,000 objects that live as
    long as the process, and the collector, started every 700 allocations, scanned them again
    and again: 169 collections and 37 ms here, for no garbage at all. Frozen (`gc.freeze`),
    they are out of every later collection's way too. An import that fails is left for the
    command to meet, and report, where it needs the module.
    """
    gc.disable()
    try:
        for name in _ENGINE_MODULES:
            importlib.import_module(name)
    except ImportError:
        pass
    finally:
        gc.freeze()
        gc.enable()


def _exit_now(code: int) -> NoReturn:
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: what Python itself exits with when its final flush fails
        os._exit(120)
    os._exit(code)
