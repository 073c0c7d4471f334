"""`reset_project`: forget a pair's snapshot, so the next sync is a union that deletes nothing.

The answer to `bm cloud bisync-reset`: after a restore from a backup, a move of the folder, or
any doubt about what the last sync agreed on, the user wants bmsync to stop trusting its
baseline without risking a file. The snapshot is set aside (`snapshot.db.reset-<time>`), never
deleted; the trash and the run history in it stay readable there. Nothing in the folder or the
bucket is touched. A sync of the project running right now keeps its lock, and `LockedError`
says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from bmsync.commands.blocking import blocking
from bmsync.display import html_table, short_repr
from bmsync.project import PathArg, forget_snapshot, open_project


@dataclass(frozen=True, slots=True)
class ResetResult:
    local_root: str
    remote_url: str
    set_aside: str | None
    """Where the snapshot now is; None when the pair had none (nothing to forget)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "local_root": self.local_root,
            "remote_url": self.remote_url,
            "set_aside": self.set_aside,
        }

    def __repr__(self) -> str:
        if self.set_aside is None:
            return short_repr("ResetResult", "no snapshot", "nothing to forget")
        return short_repr("ResetResult", "forgotten", f"snapshot kept at {self.set_aside}")

    def _repr_html_(self) -> str:
        rows = [("folder", self.local_root), ("remote", self.remote_url)]
        rows.append(("old snapshot kept at", self.set_aside or "(there was none)"))
        return html_table("ResetResult: the next sync is a union", rows)

    def summary(self) -> str:
        if self.set_aside is None:
            return (
                f"{self.local_root} <-> {self.remote_url} has no snapshot: the next sync is "
                "already a union that deletes nothing."
            )
        return (
            f"Forgot the last sync of {self.local_root} <-> {self.remote_url}: the next sync is "
            f"a union that deletes nothing. The old snapshot is kept at {self.set_aside}."
        )


async def reset_project(
    local_path: PathArg, remote_url: str, *, state_dir: PathArg | None = None
) -> ResetResult:
    """Set the pair's snapshot aside (see the module docstring)."""
    project = await open_project(local_path, remote_url, state_dir)
    aside = await forget_snapshot(project.paths)
    return ResetResult(str(project.root), project.url, str(aside) if aside else None)


reset_project_blocking = blocking(reset_project)
