"""The `bmsync` command as a user runs it: a subprocess, real S3 servers, real signals.

What the README and `bmsync/cli/runner.py`'s exit-code table promise and no library test can show:
what start-up loads, `--ignore-file`, exit codes 1, 2, 4 and 130, and the one JSON error shape.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bmsync
from bmsync.cli import build_parser, jsontext
from bmsync.cli.runner import error_exit_code, error_object
from bmsync.errors import BmsyncError, LockedError, RestoreError
from bmsync.names import TEMP_PREFIX
from tests.commandline import cli_env, run_cli
from tests.faultproxy import Fault, FaultProxy, always, on_keys
from tests.servers import S3TestServer

UNREACHABLE = "http://127.0.0.1:9"
"""For commands that must fail before they send a request: nothing listens on port 9."""

HEAVY = ("sqlalchemy", "aiobotocore", "aiohttp", "rich")
"""rich too: it draws progress and tables only once a command runs on a terminal."""

LOADED = """
import json, sys
how = sys.argv[1]
if how == "import":
    import bmsync
else:
    from bmsync.cli import main
    try:
        main(how.split())
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("how", ["import", "--help", "--version", "sync --help", "sync-all --help"])
def test_start_up_loads_no_command_and_no_heavy_library(how: str) -> None:
    """`import bmsync`, `bmsync --help` and `bmsync --version` stay cheap: the commands, the
    S3 client and the snapshot store are imported only when a command runs."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED, how], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stderr.splitlines()[-1])
    assert "bmsync" in loaded
    commands = [m for m in loaded if m == "bmsync.commands" or m.startswith("bmsync.commands.")]
    assert commands == [], f"{how} imported {commands}"
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == [], f"{how} imported {heavy[:5]}"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


def test_every_subcommand_and_option_has_a_help_text() -> None:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helped = {choice.dest for choice in subparsers._choices_actions if choice.help}
    assert helped == set(subparsers.choices), "a subcommand without a help line"
    for name, command in _subcommands().items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"bmsync {name} {'/'.join(action.option_strings) or action.dest}"


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_takes_json_quiet_and_verbose(name: str) -> None:
    options = {o for a in _subcommands()[name]._actions for o in a.option_strings}
    assert {"--json", "-q", "--quiet", "-v", "--verbose"} <= options


ENVIRONMENT_READ = re.compile(r"os\.environ(?:\.get)?[\[(]\s*[\"']([A-Z0-9_]+)")
"""`os.environ.get("NAME")` or `os.environ["NAME"]` in bmsync's code."""


def test_help_ends_with_the_exit_codes_and_the_environment() -> None:
    """Every variable the code reads (and the AWS credentials botocore reads) is in
    `bmsync --help`, after the exit codes."""
    done = run_cli("--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    codes, environment = text.index("exit codes:"), text.index("environment:")
    assert text.index("positional arguments") < codes < environment
    for code in ("0", "1", "2", "3", "4", "130"):
        assert re.search(rf"^  {code} +\S", text[codes:environment], re.M), code
    read = set()
    for source in Path(bmsync.__file__).parent.rglob("*.py"):
        read |= set(ENVIRONMENT_READ.findall(source.read_text()))
    read |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"}
    assert {"BMSYNC_STATE_DIR", "BASIC_MEMORY_CONFIG_DIR", "AWS_ENDPOINT_URL"} <= read
    listed = set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", text[environment:]))
    assert read <= listed, f"read by the code but not in --help: {sorted(read - listed)}"


def _error_types(kind: type[BmsyncError] = BmsyncError) -> list[type[BmsyncError]]:
    return [kind, *(sub for child in kind.__subclasses__() for sub in _error_types(child))]


@pytest.mark.parametrize("kind", _error_types(), ids=lambda kind: kind.__name__)
def test_the_runner_gives_each_error_type_its_exit_code(kind: type[BmsyncError]) -> None:
    """The runner alone maps an error to the exit code, by the error's type; the code is the
    one the exit-code table (and, while they carry it, the library's exceptions) promise."""
    error = kind.__new__(kind)
    promised = {LockedError: 4, RestoreError: 1}.get(kind, 2)
    assert error_exit_code(error) == promised == kind.exit_code
    assert error_object("m", kind.__name__, promised)["exit_code"] == promised


@pytest.mark.parametrize("command", ["sync", "check"])
def test_transfers_0_is_a_usage_error(tmp_path: Path, command: str) -> None:
    """0 transfers would wait forever for a free slot: refused before anything starts."""
    args = [command, str(tmp_path / "notes"), "s3://b/p", "--endpoint-url", UNREACHABLE]
    done = run_cli(*args, "--transfers", "0")
    assert done.returncode == 2 and done.stdout == ""
    assert "--transfers: must be a whole number of at least 1, not '0'" in done.stderr
    assert "Traceback" not in done.stderr
    as_json = json.loads(run_cli(*args, "--transfers", "0", "--json").stdout)
    assert (as_json["status"], as_json["error_type"], as_json["exit_code"]) == (
        "error",
        "UsageError",
        2,
    )


HOLD_LOCK = """
import sys
from bmsync.state.lock import ProjectLock
from bmsync.state.paths import ProjectPaths
paths = ProjectPaths.resolve(sys.argv[1], sys.argv[2])
paths.ensure()
with ProjectLock(paths.lock):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def test_exit_4_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    """The sync is refused before it opens the snapshot or sends a request, names the holder,
    and gives the same JSON error shape as every other failure."""
    state, url = tmp_path / "state", "s3://bucket/notes"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(state), url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        args = ["sync", str(tmp_path / "notes"), url, "--state-dir", str(state)]
        done = run_cli(*args, "--endpoint-url", UNREACHABLE, "--json")
        assert done.returncode == 4, done.stderr
        error = json.loads(done.stdout)
        assert (error["status"], error["error_type"], error["exit_code"]) == (
            "error",
            "LockedError",
            4,
        )
        assert f"pid {holder.pid}" in error["error"] and error["abort_reason"] == error["error"]
        assert f"pid {holder.pid}" in done.stderr
    finally:
        holder.communicate(input="", timeout=30)
    assert run_cli(*args, "--endpoint-url", UNREACHABLE).returncode != 4, "released"


# -- against real S3 servers -------------------------------------------------------------------


@pytest.fixture
def s3_args(tmp_path: Path, s3_server: S3TestServer, bucket: str) -> list[str]:
    """`LOCAL s3://BUCKET/notes --endpoint-url … --state-dir …` for a fresh bucket."""
    return [str(tmp_path / "notes"), f"s3://{bucket}/notes", "--endpoint-url",
            str(s3_server.config.endpoint_url), "--state-dir", str(tmp_path / "state")]  # fmt: skip


def keys(server: S3TestServer, bucket: str) -> list[str]:
    listed = server.client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def test_ignore_file_applies_to_sync_and_check(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, s3_args: list[str]
) -> None:
    env, root = cli_env(s3_server.config, tmp_path), Path(s3_args[0])
    (root / "drafts").mkdir(parents=True)
    (root / "note.md").write_text("n")
    (root / "drafts/wip.md").write_text("w")
    rules = tmp_path / "rules.ignore"
    rules.write_text("drafts/\n")
    synced = run_cli("sync", *s3_args, "--ignore-file", str(rules), "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["uploaded"] == ["note.md"]
    assert keys(s3_server, bucket) == ["notes/note.md"]
    checked = run_cli("check", *s3_args, "--ignore-file", str(rules), "--json", env=env)
    assert checked.returncode == 0 and json.loads(checked.stdout)["in_sync"], checked.stdout
    unignored = run_cli("check", *s3_args, "--json", env=env)
    assert unignored.returncode == 1 and json.loads(unignored.stdout)["only_local"] == [
        "drafts/wip.md"
    ]
    missing = run_cli("sync", *s3_args, "--ignore-file", str(tmp_path / "nope"), env=env)
    assert missing.returncode == 2 and f"ignore file {tmp_path / 'nope'}" in missing.stderr


WITHOUT_READ_ANYTHING = """
import ctypes, os, runpy, sys
if os.geteuid() == 0 and os.environ.get("BMSYNC_TEST_DAC") != "dropped":
    # root reads anything through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: drop both from the
    # bounding set and exec again, so a chmod means for root what it means for everyone else.
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    os.environ["BMSYNC_TEST_DAC"] = "dropped"
    os.execv(sys.executable, [sys.executable, *sys.argv])
sys.argv[0] = "bmsync"
runpy.run_module("bmsync.cli", run_name="__main__")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="prctl drops root's capabilities (Linux)")
def test_an_unreadable_gitignore_is_a_config_error(tmp_path: Path) -> None:
    """The project's `.gitignore` a link into a folder this user cannot search: `Path.is_file`
    raised PermissionError and the command ended in a traceback (issue 16). Now the JSON error
    object says which file and what to do, exit 2, before any request."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "rules").write_text("drafts/\n")
    root = tmp_path / "notes"
    root.mkdir()
    (root / ".gitignore").symlink_to(locked / "rules")
    script = tmp_path / "bmsync_without_read_anything.py"
    script.write_text(WITHOUT_READ_ANYTHING)
    locked.chmod(0)
    try:
        done = subprocess.run(
            [sys.executable, str(script), "sync", str(root), "s3://bucket/notes", "--json",
             "--state-dir", str(tmp_path / "state"), "--endpoint-url", "http://127.0.0.1:9"],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "BASIC_MEMORY_CONFIG_DIR": str(tmp_path / "bm")},
        )  # fmt: skip
    finally:
        locked.chmod(0o755)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    error = json.loads(done.stdout)
    assert error["error_type"] == "ConfigError", error
    assert f"cannot read ignore file {root / '.gitignore'}: Permission denied" in error["error"]
    assert "readable by this user, or remove it" in error["error"]


def test_exit_1_when_a_file_cannot_be_synced(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, s3_args: list[str]
) -> None:
    """A remote object whose local place is taken by a folder cannot be downloaded: the run
    syncs the rest, reports that file and exits 1."""
    env, root = cli_env(s3_server.config, tmp_path), Path(s3_args[0])
    (root / "x.md").mkdir(parents=True)
    s3_server.client.put_object(Bucket=bucket, Key="notes/x.md", Body=b"remote x")
    s3_server.client.put_object(Bucket=bucket, Key="notes/ok.md", Body=b"ok")
    done = run_cli("sync", *s3_args, "--json", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "partial" and report["downloaded"] == ["ok.md"]
    assert [e["path"] for e in report["errors"]] == ["x.md"]
    human = run_cli("sync", *s3_args, env=env)
    assert human.returncode == 1 and "error x.md:" in human.stdout


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_reader_that_left_early_gets_no_traceback_and_the_sync_stands(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, s3_args: list[str], as_json: bool
) -> None:
    """`bmsync sync --json | head -c 100` where `head` is gone before the report is printed:
    the sync is done and recorded, its exit code is the sync's, and stderr has no traceback."""
    env, root = cli_env(s3_server.config, tmp_path), Path(s3_args[0])
    root.mkdir(parents=True)
    (root / "note.md").write_text("n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bmsync.cli", "sync", *s3_args, *(["--json"] if as_json else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before a byte is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert keys(s3_server, bucket) == ["notes/note.md"]
    again = run_cli("sync", *s3_args, "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["uploaded"] == [], again.stdout


STALL_WAIT_S = 30.0


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["sync"],
        ["trash", "--side", "remote"],
        ["restore", "--side", "remote", "gone.md"],
    ],
    ids=lambda c: c[0],
)
def test_ctrl_c_mid_request_exits_130_without_a_traceback(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, command: list[str]
) -> None:
    """Ctrl-C while the command waits on a listing the server never answers (a stalling
    proxy): one line saying what state things are in, exit 130, no traceback."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/a.md").write_text("a")
    url = f"s3://{bucket}/notes"
    name, *options = command
    where = [url] if name == "trash" else [str(tmp_path / "notes"), url]
    if name == "restore":
        where, options = [*where, options[-1]], options[:-1]
    with FaultProxy(str(s3_server.config.endpoint_url), seed=0) as proxy:
        proxy.policy = always(Fault.STALL, {"LIST"})
        proc = subprocess.Popen(
            [sys.executable, "-m", "bmsync.cli", name, *where, *options,
             "--endpoint-url", proxy.endpoint_url, "--state-dir", str(tmp_path / "state")],
            env=cli_env(s3_server.config, tmp_path), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + STALL_WAIT_S
            while not proxy.faults[Fault.STALL] and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            assert proxy.faults[Fault.STALL], "the command never reached its listing"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bmsync: {name}") and "interrupted" in err
    assert out == ""


DOWNLOADS = 6


def test_sigterm_mid_transfer_ends_the_run_as_ctrl_c_does(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    """systemd, launchd and `docker stop` send SIGTERM: the sync stops between actions as on
    Ctrl-C (exit 143, the JSON error object, no temporary download left in the folder) and the
    next run converges. One download is held by a stalling proxy, so the signal lands while
    its temporary file exists and the other downloads are done."""
    root, url = tmp_path / "notes", f"s3://{bucket}/notes"
    client = s3_server.client
    for i in range(DOWNLOADS):
        client.put_object(Bucket=bucket, Key=f"notes/n{i}.md", Body=f"note {i}".encode())
    env = cli_env(s3_server.config, tmp_path)
    state = ["--state-dir", str(tmp_path / "state")]
    with FaultProxy(str(s3_server.config.endpoint_url), seed=0) as proxy:
        proxy.policy = on_keys({("GET", "notes/n3.md"): Fault.STALL})
        proc = subprocess.Popen(
            [sys.executable, "-m", "bmsync.cli", "sync", str(root), url, "--json",
             "--endpoint-url", proxy.endpoint_url, *state],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + STALL_WAIT_S
            while time.monotonic() < deadline and not (
                proxy.faults[Fault.STALL] and temp_files(root) and len(notes(root)) > 0
            ):
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            assert temp_files(root), "the stalled download never began"
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 143, out + err
    assert "Traceback" not in err, err
    assert err.strip().startswith("bmsync: sync interrupted"), err
    stopped = json.loads(out)
    assert (stopped["status"], stopped["exit_code"], stopped["error_type"]) == (
        "error",
        143,
        "SIGTERM",
    )
    assert temp_files(root) == [], "no temporary download is left in the folder"
    assert "n3.md" not in notes(root)
    direct = ["--endpoint-url", str(s3_server.config.endpoint_url), *state]
    again = run_cli("sync", str(root), url, "--json", *direct, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert notes(root) == [f"n{i}.md" for i in range(DOWNLOADS)]
    last = run_cli("sync", str(root), url, "--json", *direct, env=env)
    assert json.loads(last.stdout)["downloaded"] == []


def temp_files(root: Path) -> list[str]:
    return [p.name for p in root.rglob(f"{TEMP_PREFIX}*")] if root.exists() else []


def notes(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*.md")) if root.exists() else []


def test_output_is_strict_utf8_for_a_name_that_is_not_utf8(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    """A file name that is not UTF-8 is reported (never uploaded) in a `--json` report that a
    strict parser reads: the undecodable byte written as `\\xe9`, reversibly; the text output
    on a strict UTF-8 terminal says it the same way instead of ending in a traceback."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("a")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.md"), "wb") as odd:
        odd.write(b"odd")
    proc = subprocess.run(
        [sys.executable, "-m", "bmsync.cli", "sync", str(root), f"s3://{bucket}/notes", "--json",
         "--endpoint-url", str(s3_server.config.endpoint_url),
         "--state-dir", str(tmp_path / "state")],
        env=cli_env(s3_server.config, tmp_path), capture_output=True, timeout=300,
    )  # fmt: skip
    report = json.loads(proc.stdout.decode("utf-8"))
    assert proc.returncode == 0, report
    every = json.dumps(report, ensure_ascii=False)
    every.encode("utf-8")  # no lone surrogate anywhere
    warned = [w["path"] for w in report["warnings"]]
    assert warned == ["caf\\xe9.md"], report["warnings"]
    assert os.fsencode(jsontext.original(warned[0])) == b"caf\xe9.md"
    assert report["uploaded"] == ["a.md"]
    strict = cli_env(s3_server.config, tmp_path) | {
        "PYTHONIOENCODING": "utf-8:strict",  # a desktop's UTF-8 terminal, not Python's C locale
        "PYTHONUTF8": "0",
    }
    text = subprocess.run(
        [sys.executable, "-m", "bmsync.cli", "sync", str(root), f"s3://{bucket}/notes", "-v",
         "--endpoint-url", str(s3_server.config.endpoint_url),
         "--state-dir", str(tmp_path / "state")],
        env=strict, capture_output=True, timeout=300,
    )  # fmt: skip
    said = (text.stdout + text.stderr).decode("utf-8")
    assert text.returncode == 0 and "Traceback" not in said, said
    assert "caf\\xe9.md" in said
