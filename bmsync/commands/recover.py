"""Getting back what a sync deleted or overwrote: `list_trash` and `restore_file`.

Every version a run destroys is kept first, the local one under `<state>/<project>/trash/<run>/`
and the remote one under `.bmsync-trash/<prefix>/<run>/` in the bucket, for
`trash_retention_days`. These two calls make that promise usable without knowing the layout.

A restore only ever adds a file: the version goes back to its own path when that path is free,
else beside it as `{stem}.restored-{YYYYMMDD-HHMMSS}{suffix}` (the run's start). It is then an
ordinary new local file, so the next sync uploads it; nothing else is touched on either side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from bmsync.commands.blocking import blocking
from bmsync.display import html_table, human_bytes, short_repr
from bmsync.errors import NotInTrashError, RestoreError
from bmsync.failures import FileActionError
from bmsync.local import ops
from bmsync.local.trash import run_folders
from bmsync.names import MAX_NAME_BYTES, canonical, first_free, numbered_name, sibling
from bmsync.ports import RemoteStore
from bmsync.project import PathArg, project_root, remote_for, state_paths
from bmsync.remotes import S3Config, parse_remote_url
from bmsync.runs import run_started
from bmsync.s3.keys import InvalidKey, relkey_to_path, trash_key

TrashSide = Literal["local", "remote"]

_NUMBERED = re.compile(r"^(.+)\.(\d+)$")
"""The trash keeps a second version of one path in one run as `name.2`, `name.3`, …"""


@dataclass(frozen=True, slots=True)
class TrashedVersion:
    """One version a sync deleted or overwrote, and where the trash keeps it."""

    path: str
    """The project-relative path the version had."""
    run_id: str
    deleted_at: datetime
    """When the run that replaced it started (UTC)."""
    side: TrashSide
    size: int
    number: int
    """1 for the first version of `path` kept by that run on that side, 2 for the next, …"""
    location: str
    """The trash copy: a file path (local) or an s3:// URL (remote)."""
    source: str
    """Local: the trash file; remote: the key below the run's trash folder."""

    def __repr__(self) -> str:
        number = f" (#{self.number})" if self.number > 1 else ""
        when = f"{self.deleted_at:%Y-%m-%d %H:%M:%S} UTC, {human_bytes(self.size)}"
        return short_repr("TrashedVersion", f"{self.path}{number}", f"{self.side} trash, {when}")

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "run_id": self.run_id,
            "deleted_at": self.deleted_at.isoformat(),
            "side": self.side,
            "size": self.size,
            "number": self.number,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class RestoreResult:
    version: TrashedVersion
    restored_to: str
    """Project-relative path of the restored file."""

    def to_dict(self) -> dict[str, object]:
        return {"restored_to": self.restored_to, "version": self.version.to_dict()}

    def __repr__(self) -> str:
        v = self.version
        where = f"from the {v.side} trash of run {v.run_id}"
        return short_repr("RestoreResult", f"restored to {self.restored_to}", where)

    def _repr_html_(self) -> str:
        v = self.version
        return html_table(
            f"RestoreResult: {v.path}",
            [
                ("restored to", self.restored_to),
                ("deleted or overwritten", f"{v.deleted_at:%Y-%m-%d %H:%M:%S} UTC"),
                ("from", f"the {v.side} trash, run {v.run_id}"),
                ("size", human_bytes(v.size)),
            ],
        )


async def list_trash(
    remote_url: str,
    *,
    side: TrashSide | None = None,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    remote: RemoteStore | None = None,
) -> list[TrashedVersion]:
    """What both trashes of this project hold (or the one `side` names), newest run first
    (local before remote). `side="local"` sends no request to S3, so it works offline."""
    location = parse_remote_url(remote_url)
    paths = await state_paths(state_dir, location)
    found: list[TrashedVersion] = []
    if side != "remote":
        found += await asyncio.to_thread(lambda: list(_local_versions(paths.trash)))
    if side == "local":
        return sorted(found, key=_newest_first)
    async with remote_for(remote, location, s3) as opened:
        for item in await opened.list_trash():
            path = relkey_to_path(item.relkey)
            started = run_started(item.run_id)
            if isinstance(path, InvalidKey) or started is None:
                continue  # it stays in the bucket; it just cannot come back as a local file
            key = trash_key(location.prefix, item.run_id, item.relkey)
            where = f"s3://{location.bucket}/{key}"
            found.append(
                TrashedVersion(
                    path, item.run_id, started, "remote", item.size, 1, where, item.relkey
                )
            )
    return sorted(found, key=_newest_first)


async def restore_file(
    local_path: PathArg,
    remote_url: str,
    path: str,
    *,
    run_id: str | None = None,
    side: TrashSide | None = None,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    remote: RemoteStore | None = None,
) -> RestoreResult:
    """Put the newest trashed version of `path` (or the one from `run_id`, `side`) back into
    the local folder, without replacing anything; see the module docstring."""
    wanted = relkey_to_path(canonical(path.removeprefix("./")))
    if isinstance(wanted, InvalidKey):
        raise NotInTrashError(f"{path!r} is not a project-relative path ({wanted.reason})")
    location = parse_remote_url(remote_url)
    root = await asyncio.to_thread(project_root, local_path)
    async with contextlib.AsyncExitStack() as stack:
        # The local trash alone needs no S3 client: a restore from it works offline.
        opened = (
            None
            if side == "local"
            else await stack.enter_async_context(remote_for(remote, location, s3))
        )
        versions = await list_trash(location.url, side=side, state_dir=state_dir, remote=opened)
        matching = [
            v for v in versions if v.path == wanted and (run_id is None or v.run_id == run_id)
        ]
        if not matching:
            raise NotInTrashError(_not_found_message(wanted, run_id, side, versions))
        version = matching[0]
        target = await asyncio.to_thread(_free_name, root, wanted, version.run_id)
        try:
            await _write_back(root, target, version, opened)
        except (FileActionError, OSError) as err:
            raise RestoreError(
                f"could not restore {wanted} to {target}: {err}. Nothing was replaced and the "
                "trash still holds the version; free the path or the disk and run again"
            ) from err
    return RestoreResult(version, target)


def _local_versions(trash_root: Path) -> Iterator[TrashedVersion]:
    for run_dir, started in run_folders(trash_root):
        files = {
            p.relative_to(run_dir).as_posix(): p
            for p in run_dir.rglob("*")
            if p.is_file() and not p.is_symlink()
        }
        for rel, file in files.items():
            path, number = _unnumbered(rel, files)
            size = file.stat().st_size
            yield TrashedVersion(
                path, run_dir.name, started, "local", size, number, str(file), str(file)
            )


def _newest_first(version: TrashedVersion) -> tuple[object, ...]:
    return (
        -version.deleted_at.timestamp(),
        version.run_id,
        version.side != "local",
        -version.number,
        version.path,
    )


def _free_name(root: Path, path: str, run_id: str) -> str:
    """`path` when nothing is there, else the first free `stem.restored-<run time>[-n]suffix`."""

    def taken(name: str) -> bool:
        return os.path.lexists(root / ops.on_disk(root, name))

    return path if not taken(path) else first_free(sibling(path, f"restored-{run_id[:15]}"), taken)


async def _write_back(
    root: Path, target: str, version: TrashedVersion, remote: RemoteStore | None
) -> None:
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    writer = await asyncio.to_thread(ops.AtomicDownload, root, target)
    try:
        if version.side == "local":
            mtime_ns = await asyncio.to_thread(_copy_into, Path(version.source), writer)
        else:
            assert remote is not None, "a remote version is only listed with a remote"
            meta = await remote.download_trashed(version.run_id, version.source, writer.sink)
            mtime_ns = meta.effective_mtime_ns
        await asyncio.to_thread(writer.commit_new, mtime_ns)
    except BaseException:
        await asyncio.to_thread(writer.abort)
        raise


def _copy_into(source: Path, writer: ops.AtomicDownload) -> int:
    """Copy the trash file into the writer; returns its mtime."""
    with source.open("rb") as handle:
        shutil.copyfileobj(handle, writer.sink)
        return os.fstat(handle.fileno()).st_mtime_ns


def _unnumbered(rel: str, files: Mapping[str, Path]) -> tuple[str, int]:
    """The path and number of a trash entry (`numbered_name`): `name.2` is the second version
    of `name` when the run's trash holds `name`; a name too long for its number was cut to make
    room, so an entry of the longest length is matched against the names it may come from."""
    numbered = _NUMBERED.match(rel)
    if numbered is None:
        return rel, 1
    base, number = numbered.group(1), int(numbered.group(2))
    if base in files:
        return base, number
    folder, _, name = rel.rpartition("/")
    if len(name.encode("utf-8", "surrogatepass")) < MAX_NAME_BYTES - 3:
        return rel, 1  # not cut: a cut name fills the segment but for a split character
    for other in files:
        other_folder, _, other_name = other.rpartition("/")
        if other_folder == folder and numbered_name(other_name, number) == name != other_name:
            return other, number
    return rel, 1


def _not_found_message(
    path: str, run_id: str | None, side: TrashSide | None, versions: list[TrashedVersion]
) -> str:
    which = " ".join(
        part
        for part in (f"from run {run_id}" if run_id else "", f"in the {side} trash" if side else "")
        if part
    )
    same_path = [v for v in versions if v.path == path]
    if same_path:
        runs = ", ".join(sorted({f"{v.run_id} ({v.side})" for v in same_path})[:5])
        return f"no trashed version of {path} {which}; the trash holds it from: {runs}"
    return (
        f"the trash holds no version of {path}{' ' + which if which else ''} (it keeps what "
        "syncs deleted or overwrote, for the retention period); run 'bmsync trash' to see "
        "what it holds (list_trash in Python)"
    )


list_trash_blocking = blocking(list_trash)
restore_file_blocking = blocking(restore_file)
