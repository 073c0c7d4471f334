"""The runner: one command's outcome to its output and its exit code.

Exit codes (a contract): 0 in sync or dry run done; 1 finished with per-file errors; 2 usage or
configuration error; 3 safety abort, nothing changed; 4 another sync of this project is running;
130 interrupted (Ctrl-C); 143 stopped by SIGTERM (systemd, launchd, `docker stop`, `kill`),
which ends a command exactly as Ctrl-C does (`_until_terminated`). `check` exits 0 when both
sides hold the same files, 1 when something differs or could not be compared. `status`, `trash`
and `restore` exit 0 when done, 1 when a restore could not write the version back. All exit 2
for a usage, configuration, state or S3 error (and `restore` for a path the trash does not
hold).

Every subcommand goes through `run_command`: it runs the command's coroutine, prints the result
(with `--json` exactly one JSON object on stdout, else a summary for a person) and maps the
outcome to the exit code. A failure prints one line on stderr and, with `--json`, one object of
the same shape for every command (`error_object`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bmsync.errors import BmsyncError, LockedError, RestoreError

if TYPE_CHECKING:
    from bmsync.cli.terminal import Terminal
    from bmsync.report import Guard, SyncReport

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_ABORTED, EXIT_LOCKED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
"""128 + SIGINT: what a shell reports for a program stopped by Ctrl-C."""
EXIT_TERMINATED = 143
"""128 + SIGTERM: what a shell reports for a program stopped by `kill`, systemd or Docker."""

Ending = Literal["ok", "partial", "aborted", "locked", "error"]
"""How a command ended, in the words of a report's status (`SyncReport.status`, `AllStatus`):
a handler says which, and only the runner turns it into a number."""

EXIT_CODES: dict[Ending, int] = {
    "ok": EXIT_OK,
    "partial": EXIT_PARTIAL,
    "aborted": EXIT_ABORTED,
    "locked": EXIT_LOCKED,
    "error": EXIT_USAGE,
}
"""The exit code of each ending. sync-all exits with the worst project's (a project that could
not run at all is worst, then one another sync holds, then one a guard stopped)."""

ERROR_EXIT_CODES: tuple[tuple[type[BmsyncError], int], ...] = (
    (LockedError, EXIT_LOCKED),
    (RestoreError, EXIT_PARTIAL),
    (BmsyncError, EXIT_USAGE),
)
"""The exit code of each kind of error, by its type (the first that matches): another sync
holds the lock (4), a found version could not be written back (1), and every other error
(usage, configuration, state, S3, Cloud) 2."""


def error_exit_code(error: BmsyncError) -> int:
    """The exit code of a command that `error` stopped (`ERROR_EXIT_CODES`)."""
    return next(code for kind, code in ERROR_EXIT_CODES if isinstance(error, kind))


def report_ending(report: SyncReport) -> Ending:
    """A run a guard stopped is "aborted" (3), one with per-file errors "partial" (1)."""
    if report.status == "aborted":
        return "aborted"
    return "partial" if report.errors else "ok"


GUARD_HINTS: dict[Guard, str] = {
    "empty_side": "if that side really was emptied, run again with --force",
    "max_delete": "review them with --dry-run; if the deletes are intended, run again with "
    "--force or a higher --max-delete N|N%",
    "conflicts": "choose with --conflict keep-local, keep-remote or keep-both",
}
"""What the CLI adds to a guard's reason: the flags that lift it (the library, which has no
flags, says it in words)."""


# -- the runner -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command hands the runner: its result for a program and for a person."""

    data: dict[str, Any]
    """The `--json` object."""
    text: str
    """The summary for a terminal (stdout)."""
    ending: Ending = "ok"
    """How it ended, which the runner turns into the exit code (`EXIT_CODES`)."""
    hint: str | None = None
    """What to do next, on stderr after the result (e.g. the flag that lifts a guard)."""
    result: object = None
    """The result itself, for a terminal to draw as a table (`bmsync.cli.rich_view`)."""


def report_outcome(report: SyncReport) -> Outcome:
    """The outcome of a command whose result is one run's report (sync, push, pull, mirror,
    prune): its ending, and the flags that lift the guard that stopped it."""
    hint = GUARD_HINTS[report.guard] if report.guard else None
    return Outcome(report.to_dict(), report.summary(), report_ending(report), hint, report)


@dataclass(frozen=True, slots=True)
class Command:
    run: Callable[[argparse.Namespace, Terminal], Coroutine[Any, Any, Outcome]]
    if_interrupted: str
    """Said on Ctrl-C: the state the command leaves things in."""
    stopped_by_interrupt: Callable[[argparse.Namespace], bool] = lambda args: False
    """Whether Ctrl-C is how this command ends (a watch): exit 0, not 130."""
    transfers: bool = False
    """Whether it moves files, and so shows live progress on a terminal."""


def fail(error: BmsyncError, as_json: bool) -> int:
    """A command `error` stopped: its one line on stderr (and its JSON object), its exit code."""
    return _fail(str(error), type(error).__name__, error_exit_code(error), as_json)


def _fail(message: str, error_type: str, code: int, as_json: bool) -> int:
    from bmsync.cli.terminal import print_message

    print_message(message, error_object(message, error_type, code) if as_json else None)
    return code


def error_object(message: str, error_type: str, code: int) -> dict[str, Any]:
    """The one JSON shape of a failed command, whichever it was. `abort_reason` repeats the
    message under the name a sync report gives it, so a script reading `bmsync sync --json`
    finds why a run stopped in the same field whether a guard or an error stopped it."""
    return {
        "status": "error",
        "error": message,
        "error_type": error_type,
        "exit_code": code,
        "abort_reason": message,
    }


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one subcommand to its exit code; see the module docstring."""
    from bmsync.cli.terminal import QUIET, Terminal, print_message

    as_json = bool(getattr(args, "json", False))
    verbosity = QUIET if getattr(args, "quiet", False) else int(getattr(args, "verbose", 0))
    terminal = Terminal.for_command(
        verbosity=verbosity, as_json=as_json, transfers=command.transfers
    )
    try:
        with terminal:  # the live progress is off the screen before anything else is printed
            outcome = asyncio.run(_until_terminated(command.run(args, terminal)))
    except BmsyncError as err:
        return fail(err, as_json)
    except (KeyboardInterrupt, _Terminated) as stopped:
        # asyncio.run has already cancelled the command and let it clean up (the lock released,
        # temporary files removed), so only the message is left to say.
        if command.stopped_by_interrupt(args):
            stopped_data = {"status": "stopped", "message": command.if_interrupted}
            print_message(command.if_interrupted, stopped_data if as_json else None)
            return EXIT_OK
        if isinstance(stopped, _Terminated):
            return _fail(command.if_interrupted, "SIGTERM", EXIT_TERMINATED, as_json)
        return _fail(command.if_interrupted, "KeyboardInterrupt", EXIT_INTERRUPTED, as_json)
    try:
        terminal.show(outcome.data, outcome.text, outcome.result)
        if outcome.hint:
            print_message(outcome.hint)
    except BrokenPipeError:
        _stop_writing_to_closed_pipes()
    return EXIT_CODES[outcome.ending]


class _Terminated(Exception):
    """The command was cancelled because the process got SIGTERM."""


async def _until_terminated(work: Coroutine[Any, Any, Outcome]) -> Outcome:
    """`work`, cancelled on SIGTERM as `asyncio.run` cancels it on Ctrl-C, so a stop by
    systemd, launchd, `docker stop` or a parent's timeout cleans up the same way (temporary
    files removed, the run recorded as interrupted, the lock released) and is reported
    (`_Terminated`), instead of the process dying mid-write with nothing said.

    Only the command line installs this handler: a library call (`sync_project` inside
    basic-memory) leaves its host's signal handling alone. Where the event loop cannot take
    signal handlers (Windows), SIGTERM keeps its default.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):
        return await work
    try:
        outcome = await work
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    if terminated:  # the command took the cancel as its end and returned
        raise _Terminated
    return outcome


def _stop_writing_to_closed_pipes() -> None:
    """The reader of the report went away (`bmsync sync --json | head -c 100`): the work is
    done and recorded, so the exit code stays the work's, and no traceback follows. The
    standard streams are pointed at the null device, or the interpreter's last flush would
    fail on the same pipe."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(null, stream.fileno())
    finally:
        os.close(null)
