"""`bmsync.integrations.basic_memory` as a library: basic-memory's `rclone_commands` calls on
bmsync, against real S3 servers, with the S3 settings where `bm cloud setup` leaves them.

basic-memory itself is not needed here (it cannot be installed on 3.11); its own CLI on these
functions is tested by `scripts/test-basic-memory` (tests/basic_memory/).
"""

from __future__ import annotations

import configparser
import importlib.metadata
import os
import random
from pathlib import Path

import pytest

from bmsync.integrations import basic_memory as bm
from bmsync.integrations.basic_memory import cli
from bmsync.remotes import S3Config
from tests.faultproxy import Decision, FaultProxy, Request
from tests.servers import S3TestServer

PROJECT_PATH = "/app/data/research"
PREFIX = "research"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of its own: rclone's config file is looked for in it."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("RCLONE_CONFIG", raising=False)
    return folder


def write_rclone_remote(home: Path, config: S3Config, name: str = "basic-memory-cloud") -> Path:
    """The remote as basic-memory's `configure_rclone_remote` writes it, endpoint replaced."""
    path = home / ".config" / "rclone" / "rclone.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    parser = configparser.ConfigParser()
    if path.exists():
        parser.read(path)
    parser[name] = {
        "type": "s3",
        "provider": "Other",
        "access_key_id": config.access_key_id or "",
        "secret_access_key": config.secret_access_key or "",
        "endpoint": config.endpoint_url or "",
        "region": config.region or "",
        "encoding": "Slash,InvalidUtf8",
    }
    with path.open("w") as handle:
        parser.write(handle)
    return path


@pytest.fixture
def remote(home: Path, s3_server: S3TestServer) -> Path:
    """`bm cloud setup` done: the default workspace's rclone remote points at `s3_server`."""
    return write_rclone_remote(home, s3_server.config)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "research"
    path.mkdir()
    return path


@pytest.fixture
def project(folder: Path) -> bm.SyncProject:
    return bm.SyncProject("research", PROJECT_PATH, str(folder))


@pytest.fixture(autouse=True)
def no_registration() -> object:
    yield
    bm.register_s3_config(None)


def remote_files(server: S3TestServer, bucket: str) -> dict[str, bytes]:
    listed = server.client.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/").get("Contents", [])
    return {
        o["Key"].removeprefix(f"{PREFIX}/"): server.client.get_object(Bucket=bucket, Key=o["Key"])[
            "Body"
        ].read()
        for o in listed
    }


def local_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def bm_dir() -> Path:
    """basic-memory's config folder for this test (the root conftest isolates it)."""
    folder = Path(os.environ["BASIC_MEMORY_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def put(server: S3TestServer, bucket: str, path: str, body: bytes) -> None:
    server.client.put_object(Bucket=bucket, Key=f"{PREFIX}/{path}", Body=body)


# -- bisync ------------------------------------------------------------------------------------


def test_first_bisync_needs_no_resync_and_keeps_state_in_basic_memorys_folder(
    remote: Path,
    project: bm.SyncProject,
    folder: Path,
    s3_server: S3TestServer,
    bucket: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (folder / "a.md").write_bytes(b"local note\n")
    put(s3_server, bucket, "b.md", b"cloud note\n")
    assert not bm.bisync_initialized("research")

    assert bm.project_bisync(project, bucket) is True

    both = {"a.md": b"local note\n", "b.md": b"cloud note\n"}
    assert local_files(folder) == both and remote_files(s3_server, bucket) == both
    state = bm.get_project_bisync_state("research")
    assert state == bm_dir() / "bisync-state" / "research"
    assert list(state.glob("*/snapshot.db")) and bm.bisync_initialized("research")
    assert "1 uploaded, 1 downloaded" in capsys.readouterr().out


def test_max_delete_is_a_count_of_files(
    remote: Path, project: bm.SyncProject, folder: Path, s3_server: S3TestServer, bucket: str
) -> None:
    for n in range(30):
        (folder / f"n{n:02}.md").write_text(f"note {n}\n")
    assert bm.project_bisync(project, bucket)
    for n in range(26):  # 26 of 30: rclone's 25 *percent* would have stopped at 8
        (folder / f"n{n:02}.md").unlink()

    assert bm.project_bisync(project, bucket) is False
    assert len(remote_files(s3_server, bucket)) == 30  # nothing changed

    assert bm.project_bisync(project, bucket, force=True) is True
    assert sorted(remote_files(s3_server, bucket)) == [f"n{n:02}.md" for n in range(26, 30)]


def test_the_mirror_deletes_what_the_folder_lacks_and_what_bmignore_excludes(
    remote: Path, project: bm.SyncProject, folder: Path, s3_server: S3TestServer, bucket: str
) -> None:
    (bm_dir() / ".bmignore").write_text(".*\ndrafts/\n")
    (folder / "a.md").write_bytes(b"a")
    put(s3_server, bucket, "stale.md", b"only in the cloud")
    put(s3_server, bucket, "drafts/x.md", b"ignored now")

    assert bm.project_sync(project, bucket, dry_run=True) is True
    assert sorted(remote_files(s3_server, bucket)) == ["drafts/x.md", "stale.md"]

    assert bm.project_sync(project, bucket) is True
    assert remote_files(s3_server, bucket) == {"a.md": b"a"}


# -- push, pull ----------------------------------------------------------------------------------


def test_diff_then_transfer_with_each_choice(
    remote: Path, project: bm.SyncProject, folder: Path, s3_server: S3TestServer, bucket: str
) -> None:
    (folder / "both.md").write_bytes(b"local version")
    (folder / "new.md").write_bytes(b"new here")
    put(s3_server, bucket, "both.md", b"cloud version")
    put(s3_server, bucket, "cloud-only.md", b"there")

    plan = bm.project_diff(project, bucket, "push")
    assert (plan.new, plan.conflicts, plan.dest_only, plan.errors) == (
        ["new.md"],
        ["both.md"],
        ["cloud-only.md"],
        [],
    )
    # `fail` with a conflict transfers nothing at all.
    assert bm.project_transfer(project, bucket, "push", plan, strategy="fail") is False
    assert "new.md" not in remote_files(s3_server, bucket)

    # keep-both: the incoming version beside the destination's, named with basic-memory's suffix.
    suffix = "20260102-030405"
    assert bm.project_transfer(
        project, bucket, "push", plan, strategy="keep-both", conflict_suffix=suffix
    )
    cloud = remote_files(s3_server, bucket)
    assert cloud["both.md"] == b"cloud version"
    assert cloud[f"both.conflict-{suffix}.md"] == b"local version"
    assert cloud["new.md"] == b"new here" and cloud["cloud-only.md"] == b"there"
    assert not (folder / "cloud-only.md").exists()  # a push never writes locally

    # pull, keep-cloud: the cloud's version replaces the local one.
    plan = bm.project_diff(project, bucket, "pull")
    assert plan.conflicts == ["both.md"]
    assert bm.project_transfer(project, bucket, "pull", plan, strategy="keep-cloud")
    assert (folder / "both.md").read_bytes() == b"cloud version"
    assert (folder / "cloud-only.md").read_bytes() == b"there"

    # keep-local on a push, after a local edit: the cloud gets it.
    (folder / "both.md").write_bytes(b"edited here")
    put(s3_server, bucket, "both.md", b"edited there")
    plan = bm.project_diff(project, bucket, "push")
    assert plan.conflicts == ["both.md"]
    assert bm.project_copy(project, bucket, "push", overwrite=True)
    assert remote_files(s3_server, bucket)["both.md"] == b"edited here"


def test_copy_file_never_replaces(
    remote: Path, project: bm.SyncProject, folder: Path, s3_server: S3TestServer, bucket: str
) -> None:
    (folder / "x.md").write_bytes(b"mine")
    put(s3_server, bucket, "y.md", b"theirs")
    assert bm.project_copy_file(project, bucket, "push", "x.md", "x.copy.md")
    assert bm.project_copy_file(project, bucket, "pull", "y.md", "y.copy.md")
    assert remote_files(s3_server, bucket)["x.copy.md"] == b"mine"
    assert (folder / "y.copy.md").read_bytes() == b"theirs"
    (folder / "taken.md").write_bytes(b"keep me")
    assert bm.project_copy_file(project, bucket, "pull", "y.md", "taken.md") is False
    assert (folder / "taken.md").read_bytes() == b"keep me"


# -- prune, check, ls, reset -------------------------------------------------------------------


def test_prune_deletes_exactly_the_confirmed_files(
    remote: Path, s3_server: S3TestServer, bucket: str
) -> None:
    (bm_dir() / ".bmignore").write_text("cache/\n*.log\n")
    for path in ("cache/a[1].md", "cache/b.md", "x.log", "keep.md"):
        put(s3_server, bucket, path, b"data")
    project = bm.SyncProject("research", PROJECT_PATH)  # prune needs no local folder

    matches = bm.project_prune_preview(project, bucket)
    assert matches == ["cache/a[1].md", "cache/b.md", "x.log"]
    # The user confirmed two of the three: the third stays.
    assert bm.project_prune(project, bucket, ["cache/a[1].md", "x.log"]) is True
    assert sorted(remote_files(s3_server, bucket)) == ["cache/b.md", "keep.md"]


def test_check_says_whether_both_sides_match(
    remote: Path, project: bm.SyncProject, folder: Path, s3_server: S3TestServer, bucket: str
) -> None:
    (folder / "a.md").write_bytes(b"same")
    put(s3_server, bucket, "a.md", b"same")
    assert bm.project_check(project, bucket) is True
    put(s3_server, bucket, "b.md", b"only in the cloud")
    assert bm.project_check(project, bucket) is False
    assert bm.project_check(project, bucket, one_way=True) is True
    (folder / "a.md").write_bytes(b"changed")
    assert bm.project_check(project, bucket, one_way=True) is False


def test_ls_prints_like_rclone_ls(remote: Path, s3_server: S3TestServer, bucket: str) -> None:
    put(s3_server, bucket, "a.md", b"12345")
    put(s3_server, bucket, "notes/b.md", b"123")
    project = bm.SyncProject("research", PROJECT_PATH)
    assert bm.project_ls(project, bucket) == ["        5 a.md", "        3 notes/b.md"]
    assert bm.project_ls(project, bucket, path="notes") == ["        3 b.md"]
    assert bm.project_ls(project, bucket, path="notes/b.md") == ["        3 b.md"]


def test_reset_sets_the_snapshot_aside(
    remote: Path, project: bm.SyncProject, folder: Path, bucket: str
) -> None:
    (folder / "a.md").write_bytes(b"a")
    assert bm.reset_bisync_state("research") == []
    assert bm.project_bisync(project, bucket)
    [aside] = bm.reset_bisync_state("research")
    assert aside.name.startswith("snapshot.db.reset-") and aside.exists()
    assert bm.project_bisync(project, bucket)  # a union again: nothing lost, nothing moved


# -- where the S3 settings come from ---------------------------------------------------------


def test_every_request_carries_the_tigris_header_with_rclones_remote(
    home: Path, s3_server: S3TestServer, bucket: str
) -> None:
    seen: list[str | None] = []

    def record(request: Request, _rng: random.Random) -> Decision:
        seen.append(request.header("X-Tigris-Consistent"))
        return Decision()

    put(s3_server, bucket, "a.md", b"a")
    with FaultProxy(str(s3_server.config.endpoint_url), seed=0, policy=record) as proxy:
        config = s3_server.config
        write_rclone_remote(
            home,
            S3Config(proxy.endpoint_url, config.region, config.access_key_id,
                     config.secret_access_key),
            "basic-memory-cloud-team",
        )  # fmt: skip
        project = bm.SyncProject("research", PROJECT_PATH, remote_name="basic-memory-cloud-team")
        assert bm.project_ls(project, bucket) == ["        1 a.md"]
    assert seen and set(seen) == {"true"}


def test_a_registered_s3_config_needs_no_rclone_file(
    home: Path, s3_server: S3TestServer, bucket: str
) -> None:
    put(s3_server, bucket, "a.md", b"a")
    project = bm.SyncProject("research", PROJECT_PATH)
    with pytest.raises(bm.RcloneError, match=r"bm cloud setup.*register_s3_config"):
        bm.project_ls(project, bucket)
    bm.register_s3_config(s3_server.config)
    assert bm.project_ls(project, bucket) == ["        1 a.md"]


def test_errors_are_rclone_errors_with_bmsyncs_message(
    remote: Path, home: Path, bucket: str
) -> None:
    with pytest.raises(bm.RcloneError, match="Project research has no local_sync_path"):
        bm.project_bisync(bm.SyncProject("research", PROJECT_PATH), bucket)
    with pytest.raises(bm.RcloneError, match="whole bucket"):
        bm.project_ls(bm.SyncProject("everything", "/app/data/"), bucket)
    (home / ".config" / "rclone" / "rclone.conf").write_text("[basic-memory-cloud]\ntype = drive\n")
    with pytest.raises(bm.RcloneError, match="not s3"):
        bm.project_ls(bm.SyncProject("research", PROJECT_PATH), bucket)


def test_the_rclone_remote_names_of_basic_memory() -> None:
    project = bm.SyncProject("research", "/app/data/research", remote_name="basic-memory-cloud-x")
    assert bm.get_project_remote(project, "tenant-bucket") == (
        "basic-memory-cloud-x:tenant-bucket/research"
    )
    assert bm.conflict_copy_name("a/b.md", "20260101-000000") == "a/b.conflict-20260101-000000.md"
    assert bm.strategy_overwrites_dest("pull", "keep-cloud")
    assert not bm.strategy_overwrites_dest("push", "keep-cloud")


# -- the drop-in CLI's version check (basic-memory itself is not installed here) ---------------


def test_the_drop_in_refuses_a_missing_basic_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cloud", "bisync", "--name", "x"]) == 2
    assert ">=0.24,<0.25" in capsys.readouterr().err


def test_the_drop_in_refuses_another_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "version", lambda _name: "0.25.0")
    with pytest.raises(cli.UnsupportedBasicMemory, match=r"0\.25\.0.*>=0\.24,<0\.25"):
        cli.check_supported()
    monkeypatch.setattr(importlib.metadata, "version", lambda _name: "0.24.7")
    assert cli.check_supported() == "0.24.7"
