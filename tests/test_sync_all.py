"""`sync_all` / `bmsync sync-all`: every project at once (SPEC-9), against real S3 servers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bmsync.commands.all import ProjectOutcome, check_no_nesting, sync_all
from bmsync.commands.which_projects import CloudSource, ProjectPair
from bmsync.errors import BmsyncError, ConfigError, LockedError
from bmsync.state.lock import ProjectLock
from bmsync.state.paths import ProjectPaths
from tests.cloud_server import API_KEY, CloudServer
from tests.commandline import cli_env, run_cli
from tests.servers import S3TestServer


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def keys(server: S3TestServer, bucket: str) -> list[str]:
    listed = server.client.list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []) if not o["Key"].startswith("."))


async def test_every_project_both_ways_with_a_folder_for_a_cloud_only_one(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root, state = tmp_path / "bm", tmp_path / "state"
    write(root / "research" / "a.md", "a")
    write(root / "work" / "d" / "b.md", "b")
    write(root / ".hidden" / "x.md", "not a project")
    s3_server.client.put_object(Bucket=bucket, Key="cloud-only/c.md", Body=b"c")
    synced: list[str] = []
    result = await sync_all(
        root, f"s3://{bucket}", s3=s3_server.config, state_dir=state,
        on_synced=lambda name, report: synced.append(name),
    )  # fmt: skip
    assert result.status == "ok" and sorted(result.projects) == ["cloud-only", "research", "work"]
    assert sorted(synced) == sorted(result.projects)
    assert keys(s3_server, bucket) == ["cloud-only/c.md", "research/a.md", "work/d/b.md"]
    assert (root / "cloud-only" / "c.md").read_text() == "c"
    assert result.totals["uploaded"] == 2 and result.totals["downloaded"] == 1
    as_json = result.to_dict()
    assert set(as_json) >= {"projects", "status", "totals"}
    assert as_json["projects"]["research"]["uploaded"] == ["a.md"]
    again = await sync_all(root, f"s3://{bucket}", s3=s3_server.config, state_dir=state)
    assert again.status == "ok" and again.totals["uploaded"] == again.totals["downloaded"] == 0


async def test_one_project_failing_stops_no_other_and_the_status_is_the_worst(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root, state = tmp_path / "bm", tmp_path / "state"
    for name in ("one", "two", "three"):
        write(root / name / "n.md", name)
    url = f"s3://{bucket}/all"
    await sync_all(root, url, s3=s3_server.config, state_dir=state)
    for path in (root / "two").iterdir():
        path.unlink()  # an emptied project: its guard aborts
    held = ProjectLock(ProjectPaths.resolve(state, f"{url}/three").lock)
    with held:
        result = await sync_all(root, url, s3=s3_server.config, state_dir=state)
    statuses = {name: outcome.status for name, outcome in result.projects.items()}
    assert statuses == {"one": "ok", "two": "aborted", "three": "locked"}
    assert result.status == "locked" and result.totals["failed"] == 2


def test_nested_projects_are_refused(tmp_path: Path) -> None:
    pairs = [
        ProjectPair("a", tmp_path / "a", "s3://b/a"),
        ProjectPair("a-notes", tmp_path / "a" / "notes", "s3://b/x"),
    ]
    with pytest.raises(ConfigError, match="nest"):
        check_no_nesting(pairs)
    with pytest.raises(ConfigError, match="nest"):
        check_no_nesting(
            [
                ProjectPair("a", tmp_path / "a", "s3://b/p"),
                ProjectPair("c", tmp_path / "c", "s3://b/p/q"),
            ]
        )
    check_no_nesting(
        [
            ProjectPair("a", tmp_path / "a", "s3://b/p"),
            ProjectPair("c", tmp_path / "c", "s3://b/p2"),
        ]
    )


def test_sync_all_from_the_command_line(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root = tmp_path / "bm"
    write(root / "research" / "a.md", "a")
    done = run_cli(
        "sync-all", str(root), f"s3://{bucket}",
        "--endpoint-url", str(s3_server.config.endpoint_url),
        "--state-dir", str(tmp_path / "state"), "--projects-concurrency", "3", "--json",
        env=cli_env(s3_server.config, tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "ok" and out["projects"]["research"]["uploaded"] == ["a.md"]
    assert out["totals"]["projects"] == 1


def test_sync_all_watch_keeps_every_project_in_sync_until_ctrl_c(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root = tmp_path / "bm"
    write(root / "one" / "a.md", "a")
    write(root / "two" / "b.md", "b")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bmsync.cli", "sync-all", str(root), f"s3://{bucket}",
            "--endpoint-url", str(s3_server.config.endpoint_url),
            "--state-dir", str(tmp_path / "state"), "--watch", "--interval", "30", "--json",
        ],
        env=cli_env(s3_server.config, tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wanted = ["one/a.md", "two/b.md"]
    try:
        deadline = time.monotonic() + 40
        while keys(s3_server, bucket) != wanted and time.monotonic() < deadline:
            time.sleep(0.2)
        assert keys(s3_server, bucket) == wanted, "the first run of each project"
        write(root / "two" / "c.md", "c")
        wanted = ["one/a.md", "two/b.md", "two/c.md"]
        while keys(s3_server, bucket) != wanted and time.monotonic() < deadline:
            time.sleep(0.2)
        assert keys(s3_server, bucket) == wanted, "an edit in one project reached the bucket"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
    runs = [json.loads(line) for line in out.splitlines()]
    assert {r.get("project") for r in runs[:-1]} == {"one", "two"}
    assert runs[-1]["status"] == "stopped"


# -- from the Basic Memory Cloud and from basic-memory's config ----------------------------------


async def test_sync_all_with_the_cloud_registers_new_folders_and_fetches_cloud_projects(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, cloud_api: CloudServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("BASIC_MEMORY_CLOUD_API_KEY", API_KEY)
    cloud_api.add_project("Shared Notes")
    s3_server.client.put_object(Bucket=bucket, Key="shared-notes/s.md", Body=b"s")
    root = tmp_path / "bm"
    write(root / "research" / "a.md", "a")
    source = CloudSource(cloud_api.url, str(s3_server.config.endpoint_url), "us-east-1")
    result = await sync_all(root, cloud=source, state_dir=tmp_path / "state")
    assert result.status == "ok", result.summary()
    assert sorted(result.projects) == ["research", "shared-notes"]
    assert "research" in cloud_api.project_names(), "the local folder was registered first"
    assert (root / "shared-notes" / "s.md").read_text() == "s"
    assert keys(s3_server, bucket) == ["research/a.md", "shared-notes/s.md"]
    s3_requests = cloud_api.requests_to("POST", "/tenant/mount/credentials")
    assert len(s3_requests) == 1


async def test_sync_all_from_basic_memorys_config(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    folders = {"research": tmp_path / "elsewhere" / "research", "work": tmp_path / "w"}
    write(folders["research"] / "a.md", "a")
    write(folders["work"] / "b.md", "b")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"projects": {n: {"local_sync_path": str(p)} for n, p in folders.items()}})
    )
    result = await sync_all(
        None, f"s3://{bucket}/tenant", config_file=config, s3=s3_server.config,
        state_dir=tmp_path / "state",
    )  # fmt: skip
    assert result.status == "ok", result.summary()
    assert keys(s3_server, bucket) == ["tenant/research/a.md", "tenant/work/b.md"]
    with pytest.raises(ConfigError, match="nest"):
        config.write_text(
            json.dumps(
                {
                    "projects": {
                        "a": {"local_sync_path": str(tmp_path / "x")},
                        "b": {"local_sync_path": str(tmp_path / "x" / "y")},
                    }
                }
            )
        )
        await sync_all(None, f"s3://{bucket}", config_file=config, s3=s3_server.config)


def test_sync_all_cloud_from_the_command_line(
    tmp_path: Path, s3_server: S3TestServer, cloud_api: CloudServer
) -> None:
    root = tmp_path / "bm"
    write(root / "research" / "a.md", "a")
    env = cli_env(s3_server.config, tmp_path) | {"BASIC_MEMORY_CLOUD_API_KEY": API_KEY}
    done = run_cli(
        "sync-all", str(root), "--cloud", cloud_api.url,
        "--endpoint-url", str(s3_server.config.endpoint_url), "--region", "us-east-1",
        "--state-dir", str(tmp_path / "state"), "--json", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["projects"]["research"]["uploaded"] == ["a.md"]


def test_a_project_is_locked_by_the_error_type_not_its_exit_code() -> None:
    """`sync_all` tells a project another sync holds (`locked`) from one that failed (`error`)
    by the exception's type; the exit code is the CLI's business, not the library's test."""

    class SomeOtherError(BmsyncError):
        exit_code = 4

    pair = ProjectPair("notes", Path("notes"), "s3://bucket/notes")
    assert ProjectOutcome(pair, error=LockedError("held")).status == "locked"
    assert ProjectOutcome(pair, error=SomeOtherError("other")).status == "error"
    assert ProjectOutcome(pair, error=ConfigError("bad")).status == "error"
