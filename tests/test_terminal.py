"""The command in a terminal: live progress and a summary table on a real pseudo-terminal, and
nothing but the result in a pipe, with `--json` or `-q`; `-v` says each action.

Every test runs `python -m bmsync.cli` against a real S3 server (moto and `rclone serve s3`).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tests.commandline import cli_env, run_cli, run_in_terminal
from tests.servers import S3TestServer

FILES = 30
needs_a_pty = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
FILES_DONE = re.compile(r"(\d+)/(\d+) files")
ESCAPE = "\x1b["


def plain(screen: str) -> str:
    """The text without its colours and cursor moves."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


@pytest.fixture
def pair(tmp_path: Path, s3_server: S3TestServer, bucket: str) -> list[str]:
    """`LOCAL s3://BUCKET/notes --endpoint-url … --state-dir …`, the folder holding FILES
    notes and one file large enough to report its bytes as they move."""
    root = tmp_path / "notes"
    (root / "daily").mkdir(parents=True)
    for n in range(FILES - 1):
        (root / "daily" / f"{n:02}.md").write_text(f"# Day {n}\n\n" + "words " * 50)
    (root / "attachment.pdf").write_bytes(bytes(range(256)) * (3 * 4096))  # 3 MiB
    return [str(root), f"s3://{bucket}/notes", "--endpoint-url",
            str(s3_server.config.endpoint_url), "--state-dir", str(tmp_path / "state")]  # fmt: skip


@needs_a_pty
def test_a_sync_on_a_terminal_shows_its_progress_then_a_summary_table(
    tmp_path: Path, s3_server: S3TestServer, pair: list[str]
) -> None:
    run = run_in_terminal("sync", *pair, env=cli_env(s3_server.config, tmp_path))
    assert run.returncode == 0, run.screen
    screen = run.screen
    # The steps before the transfers, each drawn as it ends...
    assert f"{FILES} local files" in screen and "0 remote objects" in screen, screen
    assert f"{FILES} actions planned" in screen, screen
    # ...then the transfer bar: files done of all, bytes moved of all, drawn as they go.
    counts = [(int(done), int(total)) for done, total in FILES_DONE.findall(screen)]
    assert counts and counts[0] == (0, FILES) and all(t == FILES for _, t in counts), counts
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)
    assert re.search(r"\d+(\.\d)?/3\.\d MB", screen), "bytes moved of all"
    assert "\x1b[?25l" in screen, "drawn live (the cursor hidden while drawing)"
    # The summary table after the live display, which erased itself.
    table = screen[screen.rindex("sync ok") :]
    assert re.search(rf"uploaded\s+{FILES}\s+3\.\d MB", table), table
    assert "─" in table and "took " in table, table
    assert not FILES_DONE.search(table), "the progress is gone when the table is drawn"


def test_in_a_pipe_only_the_report_is_printed(
    tmp_path: Path, s3_server: S3TestServer, pair: list[str]
) -> None:
    done = run_cli("sync", *pair, env=cli_env(s3_server.config, tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sync ok\n") and f"  {FILES} uploaded\n" in done.stdout
    assert ESCAPE not in done.stdout + done.stderr
    # Nothing drawn: stderr holds at most a warning about the store (rclone ignores
    # conditional writes, and says so), never progress.
    assert all(line.startswith("bmsync: warning: ") for line in done.stderr.splitlines())
    assert not FILES_DONE.search(done.stderr), done.stderr


@needs_a_pty
def test_with_json_a_terminal_gets_no_progress(
    tmp_path: Path, s3_server: S3TestServer, pair: list[str]
) -> None:
    env = cli_env(s3_server.config, tmp_path)
    run = run_in_terminal("sync", *pair, "--json", env=env, stdout_is_terminal=False)
    assert run.returncode == 0, run.screen
    report = json.loads(run.stdout)  # exactly one object
    assert len(report["uploaded"]) == FILES
    assert ESCAPE not in run.screen and not FILES_DONE.search(run.screen), run.screen


@needs_a_pty
def test_quiet_on_a_terminal_draws_nothing_but_the_table(
    tmp_path: Path, s3_server: S3TestServer, pair: list[str]
) -> None:
    run = run_in_terminal("sync", *pair, "-q", env=cli_env(s3_server.config, tmp_path))
    assert run.returncode == 0, run.screen
    assert not FILES_DONE.search(run.screen) and "local files" not in run.screen
    assert "sync ok" in run.screen and "uploaded" in run.screen


def test_verbose_says_each_action_even_in_a_pipe(
    tmp_path: Path, s3_server: S3TestServer, pair: list[str]
) -> None:
    env = cli_env(s3_server.config, tmp_path)
    done = run_cli("sync", *pair, "-v", env=env)
    assert done.returncode == 0, done.stderr
    said = [line.split() for line in done.stderr.splitlines() if line.startswith("uploaded")]
    assert sorted(words[1] for words in said) == ["attachment.pdf"] + [
        f"daily/{n:02}.md" for n in range(FILES - 1)
    ]
    assert "bmsync: info: run " in done.stderr, "-v logs what the run did"
    assert "bmsync.engine.execute: debug:" not in done.stderr, "the debug log needs -vv"
    assert ESCAPE not in done.stderr
    # A file deleted locally: -v says it was deleted remotely; -vv adds the debug log.
    Path(pair[0], "daily", "00.md").unlink()
    again = run_cli("sync", *pair, "-vv", env=env)
    assert again.returncode == 0, again.stderr
    assert re.search(r"^deleted remotely +daily/00\.md$", again.stderr, re.M), again.stderr
    assert "bmsync.engine.execute: debug: delete-remote daily/00.md" in again.stderr


@needs_a_pty
def test_sync_all_shows_a_bar_per_project_then_a_table_of_projects(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    for project in ("research", "work"):
        (tmp_path / "root" / project).mkdir(parents=True)
        for n in range(5):
            (tmp_path / "root" / project / f"{n}.md").write_text(f"{project} {n}")
    run = run_in_terminal(
        "sync-all", str(tmp_path / "root"), f"s3://{bucket}",
        "--endpoint-url", str(s3_server.config.endpoint_url),
        "--state-dir", str(tmp_path / "state"), env=cli_env(s3_server.config, tmp_path),
    )  # fmt: skip
    assert run.returncode == 0, run.screen
    for project in ("research", "work"):
        assert re.search(rf"{project}: [^\r]*5 local files", run.screen), run.screen
        assert re.search(rf"{project} .*5/5 files", run.screen), run.screen
    table = plain(run.screen[run.screen.rindex("2 projects: ok") :])
    assert re.search(r"research +ok +5 +0 +0 +0 +0", table), table
    assert re.search(r"total +10 +0 +0 +0 +0", table), table


def test_tables_show_names_literally_never_as_markup(capsys: pytest.CaptureFixture[str]) -> None:
    """rich reads `[bold]` as markup; a project or a path may be named like that."""
    from bmsync.cli.rich_view import print_result
    from bmsync.commands.all import AllReport, ProjectOutcome, ProjectPair
    from bmsync.report import FileError, SyncReport

    report = SyncReport(
        status="aborted", guard="max_delete", abort_reason="30 deletes in [red]notes[/red]",
        errors=[FileError("[bold]x.md", "no")],
    ).finish(0.1)  # fmt: skip
    assert print_result(report)
    shown = capsys.readouterr().out
    assert "30 deletes in [red]notes[/red]" in shown and "[bold]x.md" in shown, shown
    pair = ProjectPair("[b]drafts", Path("d"), "s3://b/d")
    assert print_result(AllReport({"[b]drafts": ProjectOutcome(pair, report)}))
    assert "[b]drafts" in capsys.readouterr().out
