"""`bmsync demo`: the whole story on a throwaway local S3 server, in about a second.

Starts moto's S3 server on 127.0.0.1 (the `demo` extra), seeds a small knowledge base locally
and in the bucket, and runs three syncs: the first (a union, no `--resync` needed), one after
edits on both sides including a conflict and a delete, and one that finds nothing to do. Then
the deleted note comes back from the trash, a fourth sync returns it to the bucket, and the
project's status closes the story. Everything lives in a temporary folder removed afterwards.

`LocalS3Server` is that throwaway server on its own, for a notebook or a script to try bmsync
without a cloud account (`examples/getting-started.ipynb`).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bmsync.commands.blocking import run_blocking
from bmsync.commands.recover import RestoreResult, restore_file
from bmsync.commands.run_pair import sync_project
from bmsync.commands.status import ProjectStatus, project_status
from bmsync.errors import ConfigError
from bmsync.remotes import S3Config
from bmsync.report import SyncReport
from bmsync.s3.client import open_s3_client

BUCKET = "basic-memory-demo"
REMOTE = f"s3://{BUCKET}/research"

LOCAL_NOTES = {
    "welcome.md": "# Welcome\n\nNotes written in Obsidian.\n",
    "ideas.md": "# Ideas\n\n- sync without rclone\n",
    "daily/2026-11-22.md": "# Sunday\n\nRead about three-way merges.\n",
    ".obsidian/workspace.json": "{}\n",  # ignored by the default .bmignore rules
}
REMOTE_NOTES = {
    "from-assistant.md": "# Summary\n\nWritten by the AI assistant in the cloud.\n",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write(root: Path, rel: str, text: str, mtime: float | None = None) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


async def _put(config: S3Config, rel: str, text: str, mtime: float) -> None:
    async with open_s3_client(config) as client:
        await client.put_object(
            Bucket=BUCKET,
            Key=f"research/{rel}",
            Body=text.encode(),
            Metadata={"mtime": f"{mtime:.9f}"},
        )


DELETED = "daily/2026-11-22.md"


async def create_bucket(config: S3Config, name: str) -> None:
    async with open_s3_client(config) as client:
        await client.create_bucket(Bucket=name)


class LocalS3Server:
    """moto's S3 server on a free port of 127.0.0.1 (the `demo` extra), for trying bmsync.

        server = LocalS3Server()
        config = server.start(bucket="notes")  # an S3Config for it, the bucket created
        ...
        server.stop()  # everything it stored is gone

    or `with LocalS3Server() as server:` and `server.config`. Any key and secret work.
    """

    def __init__(self) -> None:
        self._server: Any = None
        self.config: S3Config | None = None

    def start(self, *, bucket: str | None = None) -> S3Config:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise ConfigError(
                "the local S3 server needs the demo extra: pip install 'bmsync[demo]'"
            ) from None
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        port = _free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.config = S3Config(
            endpoint_url=f"http://127.0.0.1:{port}",
            region="us-east-1",
            access_key_id="demo",
            secret_access_key="demo",
        )
        if bucket is not None:
            run_blocking(create_bucket(self.config, bucket))
        return self.config

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalS3Server:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


async def _story(
    config: S3Config, root: Path, state: Path
) -> tuple[list[tuple[str, SyncReport]], RestoreResult, ProjectStatus]:
    await create_bucket(config, BUCKET)
    for rel, text in LOCAL_NOTES.items():
        _write(root, rel, text)
    for rel, text in REMOTE_NOTES.items():
        await _put(config, rel, text, time.time())

    async def run() -> SyncReport:
        return await sync_project(root, REMOTE, s3=config, state_dir=state)

    runs = [("first sync: a union of both sides, no --resync needed", await run())]

    now = time.time()
    _write(root, "welcome.md", LOCAL_NOTES["welcome.md"] + "\nEdited locally.\n", now - 60)
    (root / DELETED).unlink()
    await _put(config, "from-assistant.md", REMOTE_NOTES["from-assistant.md"] + "\nMore.\n", now)
    # Both sides edit ideas.md; the local edit is newer, so it wins, and the cloud's version is
    # kept beside it on both sides as ideas.conflict-<time>.md.
    await _put(config, "ideas.md", "# Ideas\n\n- edited in the cloud\n", now - 120)
    _write(root, "ideas.md", "# Ideas\n\n- edited locally, later\n", now - 30)
    runs.append(("after edits on both sides, a delete and a conflict", await run()))
    runs.append(("again: nothing to do", await run()))
    # The sync deleted the note from the bucket too, keeping a copy in the bucket's trash.
    restored = await restore_file(root, REMOTE, DELETED, s3=config, state_dir=state)
    runs.append(("after 'bmsync restore': the note goes back to the bucket", await run()))
    return runs, restored, await project_status(root, REMOTE, state_dir=state, runs=4)


@dataclass(frozen=True, slots=True)
class DemoStory:
    """What the demo did, for `bmsync demo` to print (or `--json` to show whole)."""

    endpoint_url: str
    runs: list[tuple[str, SyncReport]]
    restored: RestoreResult
    status: ProjectStatus
    local_files: list[str]

    @property
    def ok(self) -> bool:
        return all(report.status == "ok" for _, report in self.runs)

    def to_dict(self) -> dict[str, object]:
        return {
            "runs": [{"title": t, "report": r.to_dict()} for t, r in self.runs],
            "restored": self.restored.to_dict(),
            "status": self.status.to_dict(),
            "local_files": self.local_files,
        }

    def summary(self) -> str:
        lines = [f"Local folder <-> {REMOTE} on a throwaway S3 server at {self.endpoint_url}", ""]
        restored = self.restored
        for index, (title, report) in enumerate(self.runs):
            if index == 3:
                lines += [
                    f"== changed your mind? 'bmsync restore' brings {DELETED} back",
                    f"restored {restored.version.path} from the {restored.version.side} trash "
                    f"to {restored.restored_to}",
                    "",
                ]
            lines += [f"== {title}", report.summary(), ""]
        lines += ["== bmsync status", self.status.summary(), ""]
        lines.append("Local folder now holds:\n  " + "\n  ".join(self.local_files))
        return "\n".join(lines)


async def run_demo() -> DemoStory:
    """Start moto's server, tell the story in a temporary folder, stop the server."""
    with LocalS3Server() as server, tempfile.TemporaryDirectory(prefix="bmsync-demo-") as tmp:
        assert server.config is not None and server.config.endpoint_url is not None
        root, state = Path(tmp) / "research", Path(tmp) / "state"
        runs, restored, status = await _story(server.config, root, state)
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        endpoint = server.config.endpoint_url
    return DemoStory(endpoint, runs, restored, status, files)
