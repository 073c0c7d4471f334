"""What a command shows besides its result: live progress, each action, the log; and the result.

All a command prints goes through here: results, watch summaries, errors and hints. The rules
every command follows (README, "Progress"):
- The result goes to stdout: with `--json` exactly one JSON object; on a terminal a table when
  the result has one (a sync's summary); otherwise its text summary.
- Live progress goes to stderr, and only when stderr is a terminal, the command transfers files,
  and neither `--json` nor `-q` was given. So a pipe or a file gets the result and nothing else.
- `-v` prints each action as it finishes (upload, download, delete, conflict) on stderr, terminal
  or not, and the log from INFO up; `-vv` adds the snapshot-only records and the DEBUG log.
  Without either, warnings are shown (a store that ignores conditional writes, a watch retrying);
  with `-q` errors only.

rich draws the live progress and the tables. It is imported only when something is drawn
(`bmsync.cli.rich_view`), so `bmsync --help` and a run into a pipe never load it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bmsync.cli import jsontext
from bmsync.display import human_bytes
from bmsync.progress import Progress, ProgressEvent, ProgressFn

if TYPE_CHECKING:
    from bmsync.cli.rich_view import LiveView
    from bmsync.commands.recover import RestoreResult, TrashedVersion
    from bmsync.report import SyncReport

QUIET, NORMAL, VERBOSE, DEBUG = -1, 0, 1, 2

LOG_LEVELS = {QUIET: logging.ERROR, NORMAL: logging.WARNING, VERBOSE: logging.INFO}
"""The `bmsync` logger's level at each verbosity; DEBUG and up log everything."""

DONE = {
    "upload": "uploaded",
    "download": "downloaded",
    "delete-local": "deleted locally",
    "delete-remote": "deleted remotely",
    "conflict": "conflict kept",
    "record": "recorded",
}


NamedProgressFn = Callable[[str | None, Progress], None]
"""A progress callback for runs of several projects at once: the project's name, the event."""


def action_line(event: ProgressEvent, verbosity: int, project: str | None = None) -> str | None:
    """The `-v` line of a finished action; None when the verbosity leaves it out (records,
    which change neither side, show from `-vv`)."""
    if verbosity < VERBOSE or (event.action == "record" and verbosity < DEBUG):
        return None
    where = f"{project}: " if project else ""
    if not event.ok:
        return f"{where}{event.action} failed: {event.path} (the report says why)"
    size = f"  {human_bytes(event.bytes_total)}" if event.bytes_total else ""
    return f"{where}{DONE[event.action]:<17} {event.path}{size}"


class Terminal:
    """One command's terminal: what it draws on stderr while it runs, and how its result is
    printed. A context manager: inside it the `bmsync` log goes to stderr at the verbosity's
    level, and leaving it stops any live display."""

    def __init__(self, *, verbosity: int, as_json: bool, live: bool, tables: bool) -> None:
        self.verbosity = verbosity
        self.as_json = as_json
        self.live = live
        """Draw live progress on stderr."""
        self.tables = tables
        """Print results as tables (stdout is a terminal)."""
        self._view: LiveView | None = None
        self._handler = _ToTerminal(self)
        self._logger = logging.getLogger("bmsync")
        self._level = self._logger.level

    @classmethod
    def for_command(cls, *, verbosity: int, as_json: bool, transfers: bool) -> Terminal:
        """What a command run from a shell shows, from its flags and where its output goes."""
        live = transfers and verbosity > QUIET and not as_json and sys.stderr.isatty()
        tables = not as_json and sys.stdout.isatty()
        return cls(verbosity=verbosity, as_json=as_json, live=live, tables=tables)

    def __enter__(self) -> Terminal:
        self._logger.addHandler(self._handler)
        self._logger.setLevel(LOG_LEVELS.get(self.verbosity, logging.DEBUG))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.end_run()
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._level)

    def progress(self) -> ProgressFn | None:
        """The `progress` callback for a run; None when nothing would be shown, so the run
        does not even make the events."""
        named = self.named_progress()
        return None if named is None else (lambda event: named(None, event))

    def named_progress(self) -> NamedProgressFn | None:
        """`progress` for several projects' runs at once (sync-all): each on a line of its own."""
        if self.live:
            return self._live_view().handle
        if self.verbosity >= VERBOSE:
            return self._print_action
        return None

    def end_run(self, project: str | None = None) -> None:
        """A run ended: take its progress off the screen, so that what is printed next (its
        summary, in a watch) is not drawn over. The display comes back with the next event."""
        if self._view is not None:
            self._view.end(project)

    def say(self, line: str) -> None:
        """One line on stderr, above the live progress when there is one."""
        if self._view is not None:
            self._view.say(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def show(self, data: dict[str, Any], text: str, result: object = None) -> None:
        """Print a result on stdout: one JSON object, a table, or the text summary."""
        if self.as_json:
            print(jsontext.dumps(data), flush=True)
            return
        if self.tables and result is not None:
            from bmsync.cli.rich_view import print_result

            self.end_run()
            if print_result(result):
                return
        print(text, flush=True)

    def show_run(self, report: SyncReport, project: str | None = None) -> None:
        """One run of a watch is over: its summary (or JSON object, `project` named in it),
        unless `-q`. Its progress is taken off the screen first."""
        self.end_run(project)
        if self.verbosity == QUIET:
            return
        if self.as_json:
            where = {} if project is None else {"project": project}
            print(jsontext.dumps(where | report.to_dict()), flush=True)
        else:
            print(("" if project is None else f"{project}: ") + report.summary(), flush=True)

    def _print_action(self, project: str | None, event: Progress) -> None:
        line = (
            action_line(event, self.verbosity, project)
            if isinstance(event, ProgressEvent)
            else None
        )
        if line:
            self.say(line)

    def _live_view(self) -> LiveView:
        if self._view is None:
            from bmsync.cli.rich_view import LiveView

            verbosity = self.verbosity
            self._view = LiveView(lambda project, event: action_line(event, verbosity, project))
        return self._view


def print_message(line: str, data: dict[str, Any] | None = None) -> None:
    """A line for a person on stderr (an error, how a command stopped, what to do next); with
    `--json`, `data` is the one JSON object on stdout."""
    print(f"bmsync: {line}", file=sys.stderr)
    if data is not None:
        print(jsontext.dumps(data))


def trash_text(versions: Sequence[TrashedVersion]) -> str:
    """`bmsync trash` for a person: one line per trashed version, and how to restore one."""
    if not versions:
        return "The trash of this project is empty."
    lines = [f"{'deleted or overwritten (UTC)':<28} {'trash':<6} {'size':>9}  path"]
    for v in versions:
        number = f" (#{v.number})" if v.number > 1 else ""
        when = f"{v.deleted_at:%Y-%m-%d %H:%M:%S}"
        lines.append(f"{when:<28} {v.side:<6} {v.size:>9}  {v.path}{number}   [run {v.run_id}]")
    lines.append("Restore one with: bmsync restore LOCAL REMOTE PATH [--run RUN] [--side SIDE]")
    return "\n".join(lines)


def restore_text(result: RestoreResult) -> str:
    """`bmsync restore` for a person: which version went where, and what happens next."""
    v = result.version
    return (
        f"Restored {v.path} as it was before the run of {v.deleted_at:%Y-%m-%d %H:%M:%S} "
        f"UTC ({v.side} trash) to {result.restored_to}; the next sync uploads it."
    )


class _ToTerminal(logging.Handler):
    """The `bmsync` log on stderr, one line per record, above the live progress if any."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__()
        self._say: Callable[[str], None] = terminal.say
        self._debug = terminal.verbosity >= DEBUG

    def emit(self, record: logging.LogRecord) -> None:
        try:
            where = record.name if self._debug else "bmsync"
            line = f"{where}: {record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info and self._debug:
                line += "\n" + logging.Formatter().formatException(record.exc_info)
            self._say(line)
        except Exception:
            self.handleError(record)
