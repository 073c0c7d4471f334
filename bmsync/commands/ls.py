"""`list_remote`: the files below a remote prefix, with size, time and ETag (`bm project ls`).

One listing, as a sync's: keys that could not be a local path are reported as warnings, not
listed, and folder markers and bmsync's own trash are left out. The time is the object's
LastModified: an S3 listing carries no user metadata, and a HEAD per object to read the `mtime`
metadata would make a large listing as slow as rclone's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bmsync.commands.blocking import blocking
from bmsync.display import first_few, html_table, human_bytes, short_repr
from bmsync.names import canonical
from bmsync.ports import RemoteStore
from bmsync.project import remote_for
from bmsync.remotes import S3Config, parse_remote_url
from bmsync.report import FileError


@dataclass(frozen=True, slots=True)
class RemoteFile:
    path: str
    """Relative to the listed prefix."""
    size: int
    mtime: datetime
    """When the object was last written (UTC)."""
    etag: str

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "size": self.size,
            "mtime": self.mtime.isoformat(),
            "etag": self.etag,
        }


@dataclass(slots=True)
class RemoteFiles:
    files: list[RemoteFile] = field(default_factory=list)
    warnings: list[FileError] = field(default_factory=list)
    """Keys left out because no local file could have that name."""

    def to_dict(self) -> dict[str, object]:
        return {
            "files": [f.to_dict() for f in self.files],
            "warnings": [{"path": w.path, "message": w.message} for w in self.warnings],
        }

    def __repr__(self) -> str:
        size = human_bytes(sum(f.size for f in self.files))
        left_out = f", {len(self.warnings)} left out" if self.warnings else ""
        return short_repr("RemoteFiles", f"{len(self.files)} files", f"{size}{left_out}")

    def _repr_html_(self) -> str:
        shown = 10
        rows: list[tuple[str, object]] = [
            (f.path, f"{human_bytes(f.size)}, {f.mtime:%Y-%m-%d %H:%M:%S} UTC")
            for f in self.files[:shown]
        ]
        if len(self.files) > shown:
            rows.append(("…", f"and {len(self.files) - shown} more"))
        if self.warnings:
            rows.append(("left out", first_few([w.path for w in self.warnings])))
        return html_table(f"RemoteFiles: {len(self.files)} files", rows)

    def summary(self) -> str:
        lines = [f"{f.mtime:%Y-%m-%d %H:%M:%S} {f.size:>10}  {f.path}" for f in self.files]
        lines.append(f"{len(self.files)} files, {sum(f.size for f in self.files)} bytes")
        lines += [f"left out {w.path}: {w.message}" for w in self.warnings]
        return "\n".join(lines)


async def list_remote(
    remote_url: str,
    path: str | None = None,
    *,
    s3: S3Config | None = None,
    remote: RemoteStore | None = None,
) -> RemoteFiles:
    """The files below `remote_url`, or only `path` (a file, or a folder and what it holds),
    sorted by path."""
    location = parse_remote_url(remote_url)
    wanted = canonical(path.strip("/")) if path else ""
    async with remote_for(remote, location, s3) as opened:
        listing = await opened.list_objects()
    found = RemoteFiles(warnings=[FileError(r.key, r.reason) for r in listing.rejected])
    for name in sorted(listing.objects):
        if wanted and name != wanted and not name.startswith(wanted + "/"):
            continue
        obj = listing.objects[name]
        mtime = datetime.fromtimestamp(obj.last_modified_ns / 1e9, UTC)
        found.files.append(RemoteFile(name, obj.size, mtime, obj.etag))
    return found


list_remote_blocking = blocking(list_remote)
