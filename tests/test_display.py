"""Results at a prompt and in a notebook: a one-line repr (status and counts, never every path)
and a small HTML table, for every result a command returns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bmsync
from bmsync.commands.all import AllReport, ProjectOutcome, ProjectPair
from bmsync.errors import LockedError
from bmsync.report import ConflictReport, FileError
from bmsync.testing import MemoryRemote

URL = "s3://memory/notes"
MANY = 1000


def one_line(text: str, limit: int = 160) -> bool:
    return "\n" not in text and len(text) <= limit


def test_a_sync_report_shows_its_status_and_counts_not_its_paths() -> None:
    report = bmsync.SyncReport(
        uploaded=[f"notes/{n:04}.md" for n in range(MANY)],
        downloaded=["R&D.md"],
        conflicts=[ConflictReport("ideas.md", "local", "ideas.conflict-20261130-120000.md")],
        errors=[FileError("x.md", "a folder is in the way")],
        bytes_uploaded=5_300_000,
        duration_s=1.234,
    ).finish(1.234)
    assert repr(report) == (
        "<SyncReport partial: 1000 uploaded, 1 downloaded, 1 conflicts, 1 errors in 1.23 s>"
    )
    html = report._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") < 12
    assert "5.3 MB up" in html and "R&amp;D.md" not in html, "counts, not paths"
    assert "ideas.md" in html and "x.md" in html, "conflicts and errors are named"
    assert "notes/0999.md" not in html


def test_dry_runs_and_aborts_say_so() -> None:
    dry = bmsync.SyncReport(dry_run=True, deleted_remote=["a.md"]).finish(0.1)
    assert repr(dry) == "<SyncReport dry run: 1 delete remotely in 0.10 s>"
    aborted = bmsync.SyncReport(
        status="aborted", guard="max_delete", abort_reason="30 deletes > 25"
    ).finish(0.0)
    assert repr(aborted) == "<SyncReport aborted (max_delete): nothing to do in 0.00 s>"
    assert "30 deletes &gt; 25" in aborted._repr_html_()


def test_every_result_of_a_project_has_a_short_repr_and_a_table(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "st", MemoryRemote()
    root.mkdir()
    for n in range(MANY):
        (root / f"n{n:04}.md").write_text(f"note {n}")
    (root / "R&D.md").write_text("research")
    synced = bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote)
    (root / "R&D.md").unlink()
    bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote)

    check = bmsync.check_project_blocking(root, URL, state_dir=state, remote=remote)
    status = bmsync.project_status_blocking(root, URL, state_dir=state)
    files = bmsync.list_remote_blocking(URL, remote=remote)
    versions = bmsync.list_trash_blocking(URL, state_dir=state, remote=remote)
    restored = bmsync.restore_file_blocking(root, URL, "R&D.md", state_dir=state, remote=remote)
    reset = bmsync.reset_project_blocking(root, URL, state_dir=state)

    shown = {
        "SyncReport": (synced, "<SyncReport ok: 1001 uploaded in "),
        "CheckReport": (check, "<CheckReport in sync: 1000 same in "),
        "ProjectStatus": (status, "<ProjectStatus synced: 1000 files, last run ok, no sync "),
        "RemoteFiles": (files, "<RemoteFiles 1000 files: "),
        "TrashedVersion": (versions[0], "<TrashedVersion R&D.md: "),
        "RestoreResult": (restored, "<RestoreResult restored to R&D.md: from the "),
        "ResetResult": (reset, "<ResetResult forgotten: snapshot kept at "),
    }
    for name, (result, start) in shown.items():
        text = repr(result)
        assert text.startswith(start) and one_line(text, 240), f"{name}: {text}"
        assert "n0999.md" not in text, f"{name} lists paths: {text}"
        if name == "TrashedVersion":
            continue  # one version: shown in its list's repr
        html = result._repr_html_()  # type: ignore[attr-defined]
        assert re.fullmatch(r"<table><caption>.*</caption>(<tr>.*</tr>)*</table>", html), html
        assert html.count("<tr>") <= 12, f"{name}: {html.count('<tr>')} rows"
        assert "R&D" not in html, f"{name}: unescaped"


def test_an_all_report_shows_each_projects_status() -> None:
    ok = bmsync.SyncReport(uploaded=["a.md"]).finish(0.5)
    result = AllReport(
        {
            "research": ProjectOutcome(ProjectPair("research", Path("r"), "s3://b/r"), ok),
            "work": ProjectOutcome(
                ProjectPair("work", Path("w"), "s3://b/w"), error=LockedError("held by pid 7")
            ),
        }
    )
    assert repr(result) == "<AllReport locked: 2 projects, 1 ok, 1 locked>"
    html = result._repr_html_()
    assert "research" in html and "ok: 1 uploaded" in html and "held by pid 7" in html


def test_a_warning_about_the_run_is_no_skipped_path(capsys: pytest.CaptureFixture[str]) -> None:
    """`(lock)` and `(throttled)` are notes on the run: shown as warnings, never counted or
    worded as skipped paths, in the summary, the repr, the notebook and the terminal table."""
    from bmsync.cli.rich_view import print_result

    report = bmsync.SyncReport(
        uploaded=["a.md"],
        warnings=[
            FileError("(throttled)", "the store asked to slow down 3 times"),
            FileError("link.md", "a symlink, left alone"),
        ],
    ).finish(0.5)
    summary = report.summary()
    assert "warning throttled: the store asked to slow down 3 times" in summary
    assert "skipped link.md: a symlink, left alone" in summary
    assert "skipped (throttled)" not in summary
    assert repr(report) == "<SyncReport ok: 1 uploaded, 1 skipped in 0.50 s>"
    html = report._repr_html_()
    assert "warnings</th>" in html and "1: (throttled)" in html
    assert print_result(report)
    shown = capsys.readouterr().out
    assert "warning throttled:" in shown and "skipped (throttled)" not in shown
    assert re.search(r"skipped\s+1\b", shown), shown
