"""The workflow subcommands from the command line (push, pull, mirror, prune, ls, reset, check
--one-way), each run as a user runs it, against a real S3 server: exit codes and JSON."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.commandline import cli_env, run_cli
from tests.servers import S3TestServer


@pytest.fixture
def cli(tmp_path: Path, s3_server: S3TestServer, bucket: str) -> CLI:
    return CLI(tmp_path, s3_server, bucket)


class CLI:
    def __init__(self, tmp_path: Path, server: S3TestServer, bucket: str) -> None:
        self.root = tmp_path / "notes"
        self.root.mkdir()
        self.server, self.bucket = server, bucket
        self.url = f"s3://{bucket}/notes"
        self.env = cli_env(server.config, tmp_path)
        self.state = str(tmp_path / "state")

    def __call__(self, command: str, *args: str, local: bool = True) -> tuple[int, dict]:  # type: ignore[type-arg]
        pair = [str(self.root), self.url] if local else [self.url]
        s3 = [] if command == "reset" else ["--endpoint-url", str(self.server.config.endpoint_url)]
        state = [] if command == "ls" else ["--state-dir", self.state]
        done = run_cli(command, *pair, *args, *s3, *state, "--json", env=self.env)
        return done.returncode, json.loads(done.stdout)

    def put(self, rel: str, text: str) -> None:
        self.server.client.put_object(Bucket=self.bucket, Key=f"notes/{rel}", Body=text.encode())

    def objects(self) -> list[str]:
        listed = self.server.client.list_objects_v2(Bucket=self.bucket, Prefix="notes/")
        return sorted(o["Key"][len("notes/") :] for o in listed.get("Contents", []))


def test_push_conflict_fail_exits_3_and_keep_both_resolves(cli: CLI) -> None:
    (cli.root / "a.md").write_text("local")
    cli.put("a.md", "cloud")
    code, report = cli("push")
    assert code == 3 and report["status"] == "aborted" and report["guard"] == "conflicts"
    assert [c["path"] for c in report["conflicts"]] == ["a.md"]
    code, report = cli("push", "--conflict", "keep-both")
    assert code == 0 and report["mode"] == "push"
    assert len(cli.objects()) == 2 and report["conflicts"][0]["loser_copy"] in cli.objects()


def test_pull_brings_new_files_and_reports_the_plan_keys(cli: CLI) -> None:
    cli.put("n.md", "n")
    (cli.root / "mine.md").write_text("m")
    code, report = cli("pull", "--dry-run")
    assert code == 0 and report["new"] == ["n.md"] and report["destination_only"] == ["mine.md"]
    assert not (cli.root / "n.md").exists()
    code, report = cli("pull", "--conflict", "keep-cloud")
    assert code == 0 and (cli.root / "n.md").read_text() == "n"


def test_mirror_prune_ls_reset_and_one_way_check(cli: CLI) -> None:
    (cli.root / "a.md").write_text("a")
    (cli.root / "x.pdf").write_text("pdf")
    cli.put("extra.md", "e")
    code, report = cli("mirror")
    assert (
        code == 0
        and report["deleted_remote"] == ["extra.md"]
        and cli.objects() == ["a.md", "x.pdf"]
    )

    ignore = cli.root.parent / "more.ignore"
    ignore.write_text("*.pdf\n")
    code, report = cli("prune", "--ignore-file", str(ignore))
    assert code == 0 and report["dry_run"] and report["deleted_remote"] == ["x.pdf"]
    code, report = cli("prune", "--ignore-file", str(ignore), "--yes")
    assert code == 0 and cli.objects() == ["a.md"]

    code, listed = cli("ls", local=False)
    assert code == 0 and [f["path"] for f in listed["files"]] == ["a.md"]
    assert set(listed["files"][0]) == {"path", "size", "mtime", "etag"}

    cli.put("cloud-only.md", "c")
    code, checked = cli("check", "--one-way", "--ignore-file", str(ignore))
    assert code == 0 and checked["in_sync"] and checked["only_remote"] == []
    code, checked = cli("check", "--ignore-file", str(ignore))
    assert code == 1 and checked["only_remote"] == ["cloud-only.md"]

    code, result = cli("reset")
    assert code == 0 and result["set_aside"] and ".reset-" in result["set_aside"]
    code, result = cli("reset")
    assert code == 0 and result["set_aside"] is None


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_watch_syncs_an_edit_and_stops_on_ctrl_c_with_exit_0(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, stop: signal.Signals
) -> None:
    """A watch is stopped by Ctrl-C, or by SIGTERM from its service manager: either way it
    ends as it should, with exit 0 and "stopped"."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("a")
    args = [
        sys.executable, "-m", "bmsync.cli", "watch", str(root), f"s3://{bucket}/w",
        "--endpoint-url", str(s3_server.config.endpoint_url),
        "--state-dir", str(tmp_path / "state"), "--interval", "30", "--json",
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, env=cli_env(s3_server.config, tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def remote_keys() -> list[str]:
        listed = s3_server.client.list_objects_v2(Bucket=bucket, Prefix="w/")
        return sorted(o["Key"] for o in listed.get("Contents", []))

    try:
        deadline = time.monotonic() + 30
        while remote_keys() != ["w/a.md"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert remote_keys() == ["w/a.md"], "the first run"
        (root / "b.md").write_text("b")
        while remote_keys() != ["w/a.md", "w/b.md"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert remote_keys() == ["w/a.md", "w/b.md"], "an edit reached the bucket"
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[-1]["status"] == "stopped" and lines[0]["uploaded"] == ["a.md"]
    assert not list(root.rglob(".bmsync-tmp-*"))
