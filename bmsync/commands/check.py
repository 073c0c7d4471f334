"""`check_project`: are the folder and the prefix the same? Answered without changing anything.

rclone users ran `bm project check` to compare checksums before trusting a sync. A dry run says
what a sync would do, which depends on the snapshot; a check says whether the two sides hold the
same files right now. By default it trusts what the snapshot proves: a path whose local hash and
remote ETag are both still the ones recorded when the two sides last agreed is the same on both
sides without a request. Every other path on both sides is compared as a sync compares
conflicts (the object's `xxh3` metadata, else MD5 against a single-part ETag, else its bytes).
`full=True` compares every path that way, trusting nothing (one HEAD per object).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bmsync.commands.blocking import blocking
from bmsync.display import counted, first_few, html_table, short_repr
from bmsync.engine.compare import compare_paths
from bmsync.engine.diff import local_change, remote_change
from bmsync.engine.gather import gather
from bmsync.options import check_transfers
from bmsync.ports import RemoteStore
from bmsync.project import PathArg, open_project, read_snapshot, remote_for
from bmsync.remotes import S3Config
from bmsync.report import FileError
from bmsync.types import Change, LocalFile, RemoteObject, Snapshot, SnapshotEntry


@dataclass(slots=True)
class CheckReport:
    """What `check_project` found. `in_sync`: nothing differs and nothing failed."""

    same: int = 0
    only_local: list[str] = field(default_factory=list)
    only_remote: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    """Paths that could not be compared (the object vanished, a read failed)."""
    warnings: list[FileError] = field(default_factory=list)
    """Paths left out of the check, as a sync leaves them alone (symlinks, invalid keys, …)."""
    compared: int = 0
    """How many paths needed a request (a HEAD, maybe a read) to be decided."""
    duration_s: float = 0.0

    @property
    def in_sync(self) -> bool:
        return not (self.only_local or self.only_remote or self.different or self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {"in_sync": self.in_sync, **asdict(self)}

    def _differences(self) -> list[tuple[str, list[str]]]:
        return [
            ("only local", self.only_local),
            ("only remote", self.only_remote),
            ("different", self.different),
            ("not compared", [e.path for e in self.errors]),
            ("left out", [w.path for w in self.warnings]),
        ]

    def __repr__(self) -> str:
        counts = [(self.same, "same")] + [(len(p), t) for t, p in self._differences()]
        details = f"{counted(counts)} in {self.duration_s:.2f} s"
        return short_repr("CheckReport", "in sync" if self.in_sync else "NOT in sync", details)

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [("same on both sides", self.same)]
        rows += [(t, f"{len(p)}: {first_few(p)}") for t, p in self._differences() if p]
        rows.append(("compared with a request", self.compared))
        rows.append(("took", f"{self.duration_s:.2f} s"))
        return html_table(f"CheckReport: {'in sync' if self.in_sync else 'NOT in sync'}", rows)

    def summary(self) -> str:
        head = "in sync" if self.in_sync else "NOT in sync"
        lines = [f"{head}: {self.same} files the same on both sides"]
        for title, paths in self._differences()[:3]:
            if paths:
                lines.append(f"  {title} ({len(paths)}): " + ", ".join(paths[:10]))
                if len(paths) > 10:
                    lines.append(f"    … and {len(paths) - 10} more (the JSON form lists them all)")
        lines += [f"  not compared: {e.path}: {e.message}" for e in self.errors]
        lines += [f"  left out: {w.path}: {w.message}" for w in self.warnings]
        lines.append(f"  {self.compared} compared with a request; took {self.duration_s:.2f} s")
        return "\n".join(lines)


def sort_paths(
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    *,
    full: bool,
) -> tuple[list[str], list[str], int, list[str]]:
    """Pure: (only local, only remote, how many the snapshot proves the same, to compare)."""
    only_local = sorted(local.keys() - remote.keys())
    only_remote = sorted(remote.keys() - local.keys())
    proven, to_compare = 0, []
    for path in sorted(local.keys() & remote.keys()):
        if not full and _agreed(local[path], remote[path], snapshot.get(path)):
            proven += 1
        else:
            to_compare.append(path)
    return only_local, only_remote, proven, to_compare


def _agreed(local: LocalFile, remote: RemoteObject, snap: SnapshotEntry | None) -> bool:
    unchanged = Change.UNCHANGED
    return local_change(local, snap) is unchanged and remote_change(remote, snap) is unchanged


async def check_project(
    local_path: PathArg,
    remote_url: str,
    *,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    full: bool = False,
    one_way: bool = False,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
    transfers: int = 8,
    remote: RemoteStore | None = None,
) -> CheckReport:
    """Compare the folder with the prefix; see the module docstring. Changes nothing: not the
    folder, not the bucket, and not the snapshot (which is read when there is one). `one_way`:
    only what the remote lacks or holds differently counts (`rclone check --one-way`)."""
    started = time.monotonic()
    check_transfers(transfers)
    project = await open_project(local_path, remote_url, state_dir, ignore, ignore_files)
    report = CheckReport()
    async with remote_for(remote, project.location, s3) as opened:
        found = await gather(project.root, opened, read_snapshot(project), project.rules)
        trees = found.inputs
        report.warnings = found.warnings
        only_local, only_remote, proven, to_compare = sort_paths(
            trees.local, trees.remote, trees.snapshot, full=full
        )
        compared, failed = await compare_paths(
            project.root, opened, to_compare, trees.local, trees.remote, concurrency=transfers
        )
    # One-way (what a push would change): files only the remote holds are no difference.
    report.only_local, report.only_remote = only_local, [] if one_way else only_remote
    report.same = proven + sum(1 for c in compared.values() if c.equal)
    report.different = sorted(path for path, c in compared.items() if not c.equal)
    report.errors = [FileError(path, why) for path, why in sorted(failed.items())]
    report.compared = len(to_compare)
    report.duration_s = round(time.monotonic() - started, 3)
    return report


check_project_blocking = blocking(check_project)
