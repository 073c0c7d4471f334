"""`project_status`: what bmsync knows about one project, without syncing or touching it.

It answers the questions rclone bisync users had to dig through work folders for: has this
pair been synced, when did each recent run end and how, and is a sync running right now (or
did one die holding the lock, which bmsync takes over by itself)?
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bmsync.commands.blocking import blocking
from bmsync.display import html_table, short_repr
from bmsync.project import PathArg, lock_holder, project_root, run_history, state_paths
from bmsync.remotes import parse_remote_url
from bmsync.types import RunRecord


@dataclass(frozen=True, slots=True)
class ProjectStatus:
    local_root: str
    remote_url: str
    state_folder: str
    synced: bool
    """Whether a snapshot exists (False: the next run is a first run, a union)."""
    files: int
    """Paths both sides agreed on after the last sync."""
    lock: str | None
    """A running sync, or one that stopped without finishing; None when neither."""
    runs: list[RunRecord] = field(default_factory=list)
    """The most recent runs, newest first."""

    def to_dict(self) -> dict[str, object]:
        return {
            "local_root": self.local_root,
            "remote_url": self.remote_url,
            "state_folder": self.state_folder,
            "synced": self.synced,
            "files": self.files,
            "lock": self.lock,
            "runs": [
                {
                    "id": run.id,
                    "started_at": run.started_at.isoformat(),
                    "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                    "status": run.status,
                    "summary": run.summary,
                }
                for run in self.runs
            ],
        }

    def __repr__(self) -> str:
        last = f"last run {self.runs[0].status}" if self.runs else "no runs"
        running = self.lock or "no sync running"
        details = f"{self.files} files, {last}, {running}" if self.synced else running
        return short_repr("ProjectStatus", "synced" if self.synced else "never synced", details)

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("folder", self.local_root),
            ("remote", self.remote_url),
            ("files in step", self.files if self.synced else "never synced"),
            ("lock", self.lock or "no sync running"),
        ]
        rows += [(_when(run), f"{run.status}: {_run_counts(run)}") for run in self.runs[:5]]
        return html_table("ProjectStatus", rows)

    def summary(self) -> str:
        lines = [f"{self.local_root} <-> {self.remote_url}"]
        if not self.synced:
            lines.append("Never synced: the first run copies each side's files to the other.")
        else:
            lines.append(f"{self.files} files in step after the last sync.")
        lines.append(
            self.lock[0].upper() + self.lock[1:] + "." if self.lock else "No sync is running."
        )
        if self.runs:
            lines.append("Recent runs, newest first:")
        for run in self.runs:
            lines.append(f"  {_when(run)}  {run.status:<11} {_run_counts(run)}")
        return "\n".join(lines)


def _when(run: RunRecord) -> str:
    return f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC"


def _run_counts(run: RunRecord) -> str:
    counts = ", ".join(
        f"{name.replace('_', ' ')} {value}"
        for name, value in run.summary.items()
        if isinstance(value, int) and value and not name.startswith("bytes")
    )
    return counts or "no changes"


async def project_status(
    local_path: PathArg,
    remote_url: str,
    *,
    state_dir: PathArg | None = None,
    runs: int = 10,
) -> ProjectStatus:
    """The project's snapshot, recent runs and lock, read without changing either side.

    A snapshot bound to another folder or remote raises `StateMismatchError`, as a sync would.
    """
    location = parse_remote_url(remote_url)
    root = str(await asyncio.to_thread(project_root, local_path))
    paths = await state_paths(state_dir, location)
    lock = await lock_holder(paths)
    history = await run_history(paths, root, location.url, runs)
    if history is None:
        return ProjectStatus(root, location.url, str(paths.root), False, 0, lock)
    files, recent = history
    return ProjectStatus(root, location.url, str(paths.root), True, files, lock, recent)


project_status_blocking = blocking(project_status)
