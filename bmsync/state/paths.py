"""Where a project's state lives: `<state_dir>/<name>-<hash>/{snapshot.db,lock,trash/}`.

The folder name carries a hash of the remote URL, so two remotes never share a snapshot, and a
readable part (the prefix's last segment), so a person can find their project's folder. The
folders are user-only because the trash holds copies of the user's notes and the snapshot lists
every file name (by mode bits on Linux and macOS; on Windows by the access list the folder
inherits from the user's profile, `bmsync.portable.make_private`).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bmsync.errors import ConfigError
from bmsync.names import ON_WINDOWS, segment_problem
from bmsync.portable import make_private

PRIVATE_DIR_MODE = 0o700
_READABLE_MAX = 60


def default_state_dir() -> Path:
    """`$BMSYNC_STATE_DIR`, else `~/.basic-memory/bisync-state/` (where the rclone era kept it)."""
    configured = os.environ.get("BMSYNC_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".basic-memory" / "bisync-state"


def project_key(remote_url: str, *, windows: bool = ON_WINDOWS) -> str:
    """`<last prefix segment, or the bucket>-<first 10 hex of sha256(remote_url)>`.

    The readable part is cut to `[A-Za-z0-9._-]` and 60 characters, and loses leading dots so the
    folder is never hidden (nor `.`/`..`); the hash keeps `s3://a/notes` and `s3://b/notes` apart.
    On Windows a name the folder could not have (`con.x-<hash>` is the device CON) gets a `_`
    in front; elsewhere the name stays as it always was, so no existing state folder moves.
    """
    bucket_and_prefix = remote_url.split("://", 1)[-1].strip("/")
    last_segment = bucket_and_prefix.rsplit("/", 1)[-1]
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", last_segment)[:_READABLE_MAX].lstrip(".")
    digest = hashlib.sha256(remote_url.encode("utf-8")).hexdigest()[:10]
    key = f"{readable or 'project'}-{digest}"
    return f"_{key}" if segment_problem(key, windows=windows) else key


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    """The state files of one project; `root` is `<state_dir>/<project_key>`."""

    root: Path

    @classmethod
    def for_remote(cls, state_dir: Path, remote_url: str) -> ProjectPaths:
        return cls(state_dir / project_key(remote_url))

    @classmethod
    def resolve(cls, state_dir: str | os.PathLike[str] | None, remote_url: str) -> ProjectPaths:
        """`for_remote` for a caller's `state_dir` argument (None: `default_state_dir()`);
        blocking (it may read the home folder), so async callers run it in a thread."""
        base = Path(state_dir).expanduser() if state_dir is not None else default_state_dir()
        return cls.for_remote(base, remote_url)

    @property
    def state_dir(self) -> Path:
        return self.root.parent

    @property
    def db(self) -> Path:
        return self.root / "snapshot.db"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def trash(self) -> Path:
        return self.root / "trash"

    def ensure(self) -> None:
        """Create the folders user-only (0700).

        The project folder and its trash are bmsync's own, so an existing one is tightened too
        (on Linux and macOS: see `make_private`).
        The state dir is created 0700 when missing, but an existing one is left as it is: the user
        may have pointed `--state-dir` at a folder that is not ours to chmod (think `/tmp`), and
        the 0700 project folder inside already keeps others out.
        """
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
            for folder in (self.root, self.trash):
                folder.mkdir(exist_ok=True, mode=PRIVATE_DIR_MODE)
                make_private(folder, PRIVATE_DIR_MODE)
        except OSError as err:
            raise ConfigError(
                f"cannot create the state folder {self.root}: {err.strerror}; "
                "choose a writable one with --state-dir (state_dir in Python) or BMSYNC_STATE_DIR"
            ) from err
