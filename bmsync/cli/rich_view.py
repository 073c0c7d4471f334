"""Everything bmsync draws with rich: the live progress of runs, and results as tables.

Imported only when something is drawn (`bmsync.cli.terminal` decides), never by `bmsync --help`.

The live view has one line per project while it is scanning, listing, comparing and planning,
then one transfer bar per project: files done of all, bytes moved of all, rate and time left.
It is transient: when a run ends its lines are erased, and the summary table follows.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bars
from rich.progress import ProgressColumn as Column
from rich.table import Column as TableColumn
from rich.table import Table
from rich.text import Text

from bmsync.commands.all import AllReport
from bmsync.display import human_bytes
from bmsync.progress import PhaseEvent, Progress, ProgressEvent, TransferEvent
from bmsync.report import SyncReport, skipped_paths

BAR_WIDTH = 24
"""Narrow enough that bar, counts, rate and time left fit 80 columns."""

REFRESHES_PER_S = 10
"""Redraws per second: events can come thousands a second, the screen needs far fewer."""

PHASE_TEXT = {
    ("scanning", False): "scanning the folder…",
    ("scanning", True): "{local file}",
    ("listing", False): "listing the remote…",
    ("listing", True): "{remote object}",
    ("comparing", False): "comparing {file} by content…",
    ("planning", True): "{action} planned",
}
"""What each step shows; `{thing}` becomes `1 thing` or `2 things`."""


class _Counts(Column):
    """`12/240 files  3.4/10.0 MB`: never wrapped (tests and scripts read the files count)."""

    def __init__(self) -> None:
        super().__init__(table_column=TableColumn(no_wrap=True))

    def render(self, task: Task) -> Text:
        fields = task.fields
        text = f"{fields['done']}/{fields['actions']} files"
        if fields["bytes"]:
            text += f"  {_fraction(int(task.completed), fields['bytes'])}"
        return Text(text)


def _fraction(done: int, total: int) -> str:
    """`3.4/10.0 MB`, or `900 B/1.2 MB` when the units differ."""
    (done_value, done_unit), (total_value, total_unit) = (
        human_bytes(done).split(),
        human_bytes(total).split(),
    )
    if done_unit == total_unit:
        return f"{done_value}/{total_value} {total_unit}"
    return f"{done_value} {done_unit}/{total_value} {total_unit}"


class _Rate(Column):
    """Bytes a second, for a bar counted in bytes."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not task.fields["bytes"] or not speed:
            return Text("")
        return Text(f"{human_bytes(int(speed))}/s")


@dataclass
class _Run:
    """One project's run on the screen."""

    step: TaskID
    phases: dict[str, str] = field(default_factory=dict)
    bar: TaskID | None = None
    in_bytes: bool = False
    streamed: dict[str, int] = field(default_factory=dict)
    """Bytes of large files already counted by their `TransferEvent`s, by path."""


class LiveView:
    """The live progress of one or more runs on stderr (`handle` is their callback)."""

    def __init__(self, line: Callable[[str | None, ProgressEvent], str | None]) -> None:
        self.console = Console(file=sys.stderr)
        self._line = line
        # Descriptions hold project names and counts: literal text, never rich markup.
        described = TextColumn("{task.description}", markup=False)
        self._steps = Bars(SpinnerColumn(), described, console=self.console)
        self._bars = Bars(
            described, BarColumn(bar_width=BAR_WIDTH), _Counts(), _Rate(), TimeRemainingColumn(),
            console=self.console,
        )  # fmt: skip
        self._live: Live | None = None
        self._runs: dict[str | None, _Run] = {}

    def handle(self, project: str | None, event: Progress) -> None:
        self._show()
        run = self._runs.get(project)
        if run is None:
            run = self._runs[project] = _Run(self._steps.add_task(project or ""))
        match event:
            case PhaseEvent(phase="transferring"):
                self._start_transfers(project, run, event)
            case PhaseEvent():
                template = PHASE_TEXT.get((event.phase, event.finished))
                if template is not None:
                    run.phases[event.phase] = _counted(template, event.count)
                    shown = " · ".join(run.phases.values())
                    self._steps.update(run.step, description=_named(project, shown))
                    self._redraw()  # a handful a run, each worth seeing
            case TransferEvent() if run.bar is not None and run.in_bytes:
                moved = event.bytes_done - run.streamed.get(event.path, 0)
                run.streamed[event.path] = event.bytes_done
                self._bars.advance(run.bar, moved)
            case ProgressEvent() if run.bar is not None:
                step = event.bytes_total - run.streamed.pop(event.path, 0) if run.in_bytes else 1
                self._bars.update(run.bar, advance=step, done=event.done)
                if line := self._line(project, event):
                    self.say(line)

    def _start_transfers(self, project: str | None, run: _Run, event: PhaseEvent) -> None:
        if event.count == 0:
            self._steps.update(run.step, description=_named(project, "nothing to do"))
            return
        self._steps.update(run.step, visible=False)
        run.in_bytes = event.bytes > 0
        run.bar = self._bars.add_task(
            project or "",
            total=event.bytes if run.in_bytes else event.count,
            done=0, actions=event.count, bytes=event.bytes,
        )  # fmt: skip
        self._redraw()

    def say(self, line: str) -> None:
        """A line above the live display (or alone, when none is shown)."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def end(self, project: str | None) -> None:
        """Erase the display; forget `project`'s run (every run's, for None)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        ended = list(self._runs) if project is None else [project]
        for name in ended:
            run = self._runs.pop(name, None)
            if run is not None:
                self._steps.remove_task(run.step)
                if run.bar is not None:
                    self._bars.remove_task(run.bar)

    def _redraw(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def _show(self) -> None:
        if self._live is None:
            self._live = Live(
                Group(self._steps, self._bars), console=self.console, transient=True,
                refresh_per_second=REFRESHES_PER_S, redirect_stdout=False, redirect_stderr=False,
            )  # fmt: skip
            self._live.start()


def _counted(template: str, count: int) -> str:
    return re.sub(r"\{(.+?)\}", lambda m: f"{count} {m[1]}{'' if count == 1 else 's'}", template)


def _named(project: str | None, text: str) -> str:
    return f"{project}: {text}" if project else text


# -- results as tables ---------------------------------------------------------------------------


def print_result(result: object) -> bool:
    """Print `result` on stdout as a table; False when it has no table form."""
    console = Console(file=sys.stdout)
    if isinstance(result, SyncReport):
        console.print(sync_table(result))
        why = [f"why: {result.abort_reason}"] if result.abort_reason else []
        lines = why + result.details()
    elif isinstance(result, AllReport):
        console.print(all_table(result))
        lines = [f"{name}: {o.details()}" for name, o in sorted(result.projects.items())
                 if o.status in ("aborted", "locked", "error")]  # fmt: skip
        lines += [w.warning_line() for w in result.warnings]
    else:
        return False
    for line in lines:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    return True


def sync_table(report: SyncReport) -> Table:
    """The counts of a run, with the bytes moved, its status as the title (an abort's reason,
    a sentence, goes below it)."""
    title = f"{'sync' if report.mode == 'bisync' else report.mode} {report.headline}"
    table = Table(title=Text(title), title_justify="left", box=box.SIMPLE_HEAD)
    table.caption = f"took {report.duration_s:.2f} s"
    table.add_column("")
    table.add_column("files", justify="right")
    table.add_column("bytes", justify="right")
    up, down, *others = report.counts()
    rows = [
        (*up, human_bytes(report.bytes_uploaded)),
        (*down, human_bytes(report.bytes_downloaded)),
        *((number, what, "") for number, what in others),
        (len(report.errors), "errors", ""),
        (len(skipped_paths(report.warnings)), "skipped", ""),
    ]
    shown = [(what, str(number), size) for number, what, size in rows if number]
    for cells in shown or [("nothing to do: both sides agree", "", "")]:
        table.add_row(*map(Text, cells))
    return table


def all_table(result: AllReport) -> Table:
    """One row per project, and the totals."""
    title = f"{len(result.projects)} projects: {result.status}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_footer=True)
    totals = result.totals
    columns = [
        ("project", "total"),
        ("status", ""),
        ("up", str(totals["uploaded"])),
        ("down", str(totals["downloaded"])),
        ("deleted", str(totals["deleted_local"] + totals["deleted_remote"])),
        ("conflicts", str(totals["conflicts"])),
        ("errors", str(totals["errors"])),
    ]
    for index, (name, footer) in enumerate(columns):
        table.add_column(name, footer=footer, justify="left" if index < 2 else "right")
    for name, outcome in sorted(result.projects.items()):
        report = outcome.report
        if report is None:
            table.add_row(Text(name), Text(outcome.status))  # why: printed below the table
            continue
        deleted = len(report.deleted_local) + len(report.deleted_remote)
        cells = (
            name, report.headline, str(len(report.uploaded)), str(len(report.downloaded)),
            str(deleted), str(len(report.conflicts)), str(len(report.errors)),
        )  # fmt: skip
        table.add_row(*map(Text, cells))  # project names are text, never rich markup
    return table
