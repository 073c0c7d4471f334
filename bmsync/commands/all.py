"""`sync_all`: every project at once, the Dropbox model of SPEC-9.

A root folder holds one folder per project (`~/basic-memory/research`, `~/basic-memory/work`) and
a bucket prefix holds one folder per project (`s3://bucket/research/`, ...). `sync_all` syncs
each pair as `sync_project` would, each with its own snapshot and lock, a few at a time: a
project only in the bucket gets its local folder (its first sync is a union, which downloads
it); one only on disk gets its remote folder. A project that fails or aborts does not stop the
others; the result holds one report per project, the totals, and the worst status.

The list of pairs can also come from elsewhere (basic-memory's config, the Cloud API): the
`ProjectPair` list goes to `sync_pairs`, which does the rest the same way.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bmsync.commands.blocking import blocking
from bmsync.commands.run_pair import Pair, run_pair
from bmsync.commands.which_projects import CloudSource, ProjectPair, find_projects
from bmsync.display import counted, html_table, short_repr
from bmsync.errors import BmsyncError, ConfigError, LockedError
from bmsync.options import ConflictName, ProfileName, RunOptions, SyncOptions
from bmsync.progress import Progress
from bmsync.project import PathArg
from bmsync.remotes import S3Config, parse_remote_url
from bmsync.report import FileError, SyncReport

ProjectProgressFn = Callable[[str, Progress], None]
"""A progress callback for several projects: the project's name, then the event."""

AllStatus = Literal["ok", "partial", "aborted", "locked", "error"]
_SEVERITY: tuple[AllStatus, ...] = ("ok", "partial", "aborted", "locked", "error")
"""Worst last: a project that could not run at all outranks one a guard stopped."""


@dataclass(slots=True)
class ProjectOutcome:
    """How one project's sync ended: a report, or the error that stopped it before one."""

    pair: ProjectPair
    report: SyncReport | None = None
    error: BmsyncError | None = None

    @property
    def status(self) -> AllStatus:
        if self.error is not None:
            return "locked" if isinstance(self.error, LockedError) else "error"
        assert self.report is not None
        return self.report.status

    def __repr__(self) -> str:
        return short_repr("ProjectOutcome", f"{self.pair.name} {self.status}", self.details())

    def details(self) -> str:
        """What the project's run did, or why it could not run."""
        if self.report is None:
            return str(self.error)
        report = self.report
        done = counted([*report.counts(), (len(report.errors), "errors")], empty="nothing to do")
        return f"{done}: {report.abort_reason}" if report.abort_reason else done

    def to_dict(self) -> dict[str, Any]:
        if self.report is not None:
            return {"local": str(self.pair.local), "remote": self.pair.remote_url} | (
                self.report.to_dict()
            )
        assert self.error is not None
        return {
            "local": str(self.pair.local),
            "remote": self.pair.remote_url,
            "status": self.status,
            "error": str(self.error),
            "error_type": type(self.error).__name__,
            "exit_code": self.error.exit_code,
        }


@dataclass(slots=True)
class AllReport:
    """One outcome per project (by name), the totals, and the worst status."""

    projects: dict[str, ProjectOutcome] = field(default_factory=dict)
    warnings: list[FileError] = field(default_factory=list)
    """Top-level folders that cannot be projects (a hidden folder, a name S3 cannot hold)."""

    @property
    def status(self) -> AllStatus:
        statuses = [o.status for o in self.projects.values()] or ["ok"]
        return max(statuses, key=_SEVERITY.index)

    @property
    def totals(self) -> dict[str, int]:
        reports = [o.report for o in self.projects.values() if o.report is not None]
        counted = ("uploaded", "downloaded", "deleted_local", "deleted_remote", "conflicts")
        totals = {name: sum(len(getattr(r, name)) for r in reports) for name in counted}
        totals["errors"] = sum(len(r.errors) for r in reports)
        totals["bytes_uploaded"] = sum(r.bytes_uploaded for r in reports)
        totals["bytes_downloaded"] = sum(r.bytes_downloaded for r in reports)
        totals["projects"] = len(self.projects)
        totals["failed"] = sum(
            o.status in ("aborted", "locked", "error") for o in self.projects.values()
        )
        return totals

    def __repr__(self) -> str:
        statuses = [o.status for o in self.projects.values()]
        by_status = counted([(statuses.count(s), s) for s in _SEVERITY])
        return short_repr("AllReport", self.status, f"{len(self.projects)} projects, {by_status}")

    def _repr_html_(self) -> str:
        rows = [
            (name, f"{outcome.status}: {outcome.details()}")
            for name, outcome in sorted(self.projects.items())
        ]
        rows += [(w.path, f"skipped: {w.message}") for w in self.warnings]
        return html_table(f"AllReport: {self.status}", rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "projects": {name: o.to_dict() for name, o in sorted(self.projects.items())},
            "status": self.status,
            "totals": self.totals,
            "warnings": [{"path": w.path, "message": w.message} for w in self.warnings],
        }

    def summary(self) -> str:
        lines = [f"{len(self.projects)} projects: {self.status}"]
        for name, outcome in sorted(self.projects.items()):
            if outcome.report is not None:
                report = outcome.report
                counts = (
                    f"{len(report.uploaded)} up, {len(report.downloaded)} down, "
                    f"{len(report.deleted_local) + len(report.deleted_remote)} deleted, "
                    f"{len(report.conflicts)} conflicts"
                )
                why = f": {report.abort_reason}" if report.abort_reason else ""
                lines.append(f"  {name:<24} {report.status:<8} {counts}{why}")
            else:
                lines.append(f"  {name:<24} {outcome.status:<8} {outcome.error}")
        lines += [f"  skipped {w.path}: {w.message}" for w in self.warnings]
        return "\n".join(lines)


async def sync_all(
    root: PathArg | None,
    remote_url: str | None = None,
    *,
    cloud: CloudSource | None = None,
    config_file: PathArg | None = None,
    use_config: bool = False,
    projects_concurrency: int = 2,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    profile: ProfileName = "balanced",
    conflict: ConflictName | None = None,
    max_delete: int | str | None = None,
    dry_run: bool = False,
    force: bool = False,
    ignore: Sequence[str] = (),
    transfers: int = 8,
    on_synced: Callable[[str, SyncReport], object] | None = None,
    dir_markers: bool = False,
    progress: ProjectProgressFn | None = None,
    options: RunOptions | None = None,
) -> AllReport:
    """Sync every project; see the module docstring. The projects are every top-level folder
    of `root` and of `remote_url` (`s3://bucket[/prefix]`), or basic-memory's configured ones
    (`config_file`, or `use_config` for its usual place), in the Basic Memory Cloud's bucket
    with `cloud` (`bmsync.commands.which_projects`). `on_synced(name, report)` is called as each
    project finishes, `progress(name, event)` with each project's progress events
    (`bmsync.progress`); `dir_markers` keeps folder markers in every project (each project's
    own folder included); `options` gives the options (`bmsync.RunOptions`) whole instead."""
    resolved = RunOptions.given("sync-all", locals()).resolve()
    found = await find_projects(
        root, remote_url, s3=s3, config_file=config_file, use_config=use_config, cloud=cloud,
        register=not resolved.dry_run,
    )  # fmt: skip
    result = await sync_pairs(
        found.pairs, resolved, projects_concurrency=projects_concurrency, s3=s3,
        state_dir=state_dir, ignore=ignore, on_synced=on_synced, progress=progress,
    )  # fmt: skip
    result.warnings[:0] = found.warnings
    return result


async def sync_pairs(
    pairs: Sequence[ProjectPair],
    options: SyncOptions,
    *,
    projects_concurrency: int = 2,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    ignore: Sequence[str] = (),
    on_synced: Callable[[str, SyncReport], object] | None = None,
    progress: ProjectProgressFn | None = None,
) -> AllReport:
    """Sync each pair, `projects_concurrency` at a time; one failing never stops another."""
    if not isinstance(projects_concurrency, int) or projects_concurrency < 1:
        raise ConfigError(
            f"projects_concurrency must be a whole number of at least 1 (got "
            f"{projects_concurrency!r})"
        )
    check_no_nesting(pairs)
    result = AllReport()
    gate = asyncio.Semaphore(projects_concurrency)

    async def one(pair: ProjectPair) -> None:
        outcome = ProjectOutcome(pair)
        async with gate:
            try:
                given = Pair(pair.local, pair.remote_url, pair.s3 or s3, state_dir, ignore)
                told = functools.partial(progress, pair.name) if progress else None
                outcome.report = await run_pair(given, options, progress=told)
            except BmsyncError as err:
                outcome.error = err
        result.projects[pair.name] = outcome
        if on_synced is not None and outcome.report is not None:
            on_synced(pair.name, outcome.report)

    await asyncio.gather(*(one(pair) for pair in pairs))
    return result


def check_no_nesting(pairs: Sequence[ProjectPair]) -> None:
    """Refuse projects whose folders or prefixes nest inside each other: one would sync the
    other's files as its own, twice over."""
    for i, first in enumerate(pairs):
        for second in pairs[i + 1 :]:
            if _nested(first.local, second.local) or _prefix_nested(
                first.remote_url, second.remote_url
            ):
                raise ConfigError(
                    f"projects {first.name!r} ({first.local} <-> {first.remote_url}) and "
                    f"{second.name!r} ({second.local} <-> {second.remote_url}) nest inside "
                    "each other; give each project a folder and a prefix of its own"
                )


def _nested(a: Path, b: Path) -> bool:
    ra, rb = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    return ra == rb or ra in rb.parents or rb in ra.parents


def _prefix_nested(a: str, b: str) -> bool:
    la, lb = parse_remote_url(a), parse_remote_url(b)
    if la.bucket != lb.bucket:
        return False
    pa, pb = la.prefix + "/", lb.prefix + "/"
    return not la.prefix or not lb.prefix or pa.startswith(pb) or pb.startswith(pa)


sync_all_blocking = blocking(sync_all)
