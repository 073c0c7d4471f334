"""Outcomes: what a run carried out, recorded as it happens, for the report to be built from.

The executor and housekeeping write here and nowhere else; `build_report.build_report` is the one
function that turns a plan, these outcomes and the run's facts into a `SyncReport`. A dry run
is a run whose executor carries out nothing: `would_do` records every action of the same plan
as done, with the bytes it would move, so a dry run's report and the real run's come from one
function and cannot disagree about what is (or would be) uploaded, downloaded, deleted, moved
or resolved.

A run stopped part-way (Ctrl-C, an auth failure) has outcomes for what finished only, so its
report says exactly what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bmsync.engine.actions import Action
from bmsync.engine.folders import FolderPlan, files_after, folders_of
from bmsync.engine.meter import transfer_bytes
from bmsync.engine.plan import Plan
from bmsync.report import ChangeKind, FileError, LocalChange


@dataclass(slots=True)
class Outcome:
    """One action the executor ran: done, or failed with why; and the bytes it moved (also
    when it failed part-way: they were sent). Small, as the executor makes one per action."""

    action: Action
    error: str | None = None
    sent: int = 0
    received: int = 0


@dataclass(slots=True)
class Outcomes:
    """The record of one run's execution, in the order things happened."""

    actions: list[Outcome] = field(default_factory=list)
    local_changes: list[LocalChange] = field(default_factory=list)
    """What was done to the local folder, path by path (`SyncReport.local_changes`)."""
    folders_created: list[str] = field(default_factory=list)
    folders_removed: list[str] = field(default_factory=list)
    markers_created: list[str] = field(default_factory=list)
    markers_deleted: list[str] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    """Failures that are no file action's: a folder or marker (`folder/`)."""
    warnings: list[FileError] = field(default_factory=list)
    """Notes the execution adds: a folder left because it filled, the store throttling,
    housekeeping that failed."""

    def changed(self, change: ChangeKind, path: str, old_path: str | None = None) -> None:
        self.local_changes.append(LocalChange(change, path, old_path))


def would_do(plan: Plan, folders: FolderPlan) -> Outcomes:
    """A dry run's outcomes: every action of the plan done, moving the bytes it would move, and
    the folder plan done as the executor would do it; nothing is touched, so nothing is done
    to the local folder."""
    outcomes = Outcomes()
    for action in plan.actions:
        sent, received = transfer_bytes(action)
        outcomes.actions.append(Outcome(action, None, sent, received))
    # A folder a file of the plan lands in is made by that file's download: the folder step
    # then finds it there and reports nothing (`ops.make_folder`), as the real run does.
    made_by_files = folders_of(files_after(plan, (), ()).local)
    outcomes.folders_created += [f for f in folders.make_local if f not in made_by_files]
    outcomes.folders_removed += [folder.path for folder in folders.remove_local]
    outcomes.markers_created += folders.put_markers
    outcomes.markers_deleted += [marker.path for marker in folders.delete_markers]
    return outcomes


def describe(err: BaseException) -> str:
    """How a failure reads in the report: the OS's words and the file, or the message."""
    if isinstance(err, OSError) and err.strerror:
        where = f" ({err.filename})" if err.filename else ""
        return f"{err.strerror}{where}"
    return str(err) or type(err).__name__
