"""What the drop-in prints where rclone printed its own lines: bmsync's report, briefly.

basic-memory prints a line before and after each call ("Bisync research (local <-> cloud)...",
"research bisync completed successfully"); rclone's progress and log went to the same terminal
in between. bmsync's report summary takes that place: what moved, each conflict and error, and,
when a safety guard stopped the run, why and how to go ahead. `verbose` lists every file.
"""

from __future__ import annotations

import sys

from bmsync.report import SyncReport

FORCE_VARIABLE = "BMSYNC_FORCE"
"""Set to 1 to lift the max-delete and empty-side guards for one `bm` run, which has no flag
for it (the library takes `force=True`)."""

_AGAIN = f"run the same command once with {FORCE_VARIABLE}=1"
_GUARD_HINTS = {
    "max_delete": f"if the deletes are intended, {_AGAIN}",
    "empty_side": f"if that side really was emptied, {_AGAIN}",
}


def show(report: SyncReport, *, verbose: bool) -> None:
    """Print the report's summary, indented under basic-memory's own line."""
    lines = report.summary().splitlines()
    if verbose:
        lines += _each_file(report)
    hint = _GUARD_HINTS.get(report.guard or "")
    if hint:
        lines.append(f"  ({hint})")
    _print(lines)


def show_lines(lines: list[str]) -> None:
    _print(lines)


def _each_file(report: SyncReport) -> list[str]:
    verb = "would " if report.dry_run else ""
    listed = (
        (report.uploaded, f"{verb}upload"),
        (report.downloaded, f"{verb}download"),
        (report.deleted_local, f"{verb}delete locally"),
        (report.deleted_remote, f"{verb}delete remotely"),
    )
    return [f"  {what}: {path}" for paths, what in listed for path in paths]


def _print(lines: list[str]) -> None:
    text = "\n".join(f"  {line}" if not line.startswith(" ") else line for line in lines)
    print(text, file=sys.stdout, flush=True)
