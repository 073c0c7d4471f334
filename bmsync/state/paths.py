"""Where a project's state lives: `<state_dir>/<name>-<hash>/{snapshot.db,lock,trash/}`.

The folder name carries a hash of the remote URL so two remotes can never share a snapshot,
and the readable part (the prefix's last segment) so a person can find their project's folder.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bmsync.errors import ConfigError

STATE_DIR_MODE = 0o700


def default_state_dir() -> Path:
    configured = os.environ.get("BMSYNC_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".basic-memory" / "bisync-state"


def project_key(remote_url: str) -> str:
    without_scheme = remote_url.split("://", 1)[-1].strip("/")
    name = without_scheme.rsplit("/", 1)[-1] or "root"
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60].lstrip(".") or "project"
    digest = hashlib.sha256(remote_url.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    root: Path

    @classmethod
    def for_remote(cls, state_dir: Path, remote_url: str) -> ProjectPaths:
        return cls(state_dir / project_key(remote_url))

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
        """Create the folders user-only: the trash holds copies of the user's notes."""
        try:
            for folder in (self.root.parent, self.root, self.trash):
                folder.mkdir(parents=True, exist_ok=True, mode=STATE_DIR_MODE)
            for folder in (self.root, self.trash):
                os.chmod(folder, STATE_DIR_MODE)
        except OSError as err:
            raise ConfigError(
                f"cannot create the state folder {self.root}: {err.strerror}; "
                "choose a writable one with --state-dir (or BMSYNC_STATE_DIR)"
            ) from err
