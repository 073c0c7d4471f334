"""The `bmsync` command: argument parsing and rendering only, no sync logic.

Exit codes (a contract): 0 in sync or dry run done; 1 finished with per-file errors; 2 usage or
configuration error; 3 safety abort, nothing changed; 4 another sync of this project is running.
`check` exits 0 when both sides hold the same files, 1 when something differs or could not be
compared. `status`, `trash` and `restore` exit 0 when done, 1 when a restore could not write the
version back. All exit 2 for a usage, configuration, state or S3 error (and `restore` for a path
the trash does not hold).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from bmsync import __version__
from bmsync.commands.check import check_project
from bmsync.commands.recover import list_trash, restore_file
from bmsync.commands.status import project_status
from bmsync.commands.sync import sync_project
from bmsync.errors import BmsyncError, ConfigError
from bmsync.options import PROFILES, ConflictStrategy
from bmsync.report import ProgressEvent, SyncReport
from bmsync.s3.config import S3Config

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_ABORTED, EXIT_LOCKED = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its message, add a hint."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nRun '{self.prog} --help'.\n")


def _s3_options() -> _Parser:
    """What every command that talks to the bucket takes (credentials: AWS environment)."""
    common = _Parser(add_help=False)
    common.add_argument("--endpoint-url", help="S3 endpoint (e.g. https://fly.storage.tigris.dev)")
    common.add_argument("--region")
    common.add_argument("--header", action="append", default=[], metavar="'Name: value'")
    common.add_argument("--state-dir")
    common.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bmsync", description="Bidirectional sync of notes with S3.")
    parser.add_argument("--version", action="version", version=f"bmsync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _s3_options()

    sync = commands.add_parser(
        "sync", parents=[common], help="sync a local folder with an S3 prefix, both ways"
    )
    sync.add_argument("local", help="the local project folder (created if missing)")
    sync.add_argument("remote", help="s3://BUCKET/PREFIX")
    sync.add_argument("--profile", choices=sorted(PROFILES), default="balanced")
    sync.add_argument("--conflict", choices=[s.value for s in ConflictStrategy])
    sync.add_argument("--max-delete", metavar="N|N%", help="per-side delete limit")
    sync.add_argument("--force", action="store_true", help="lift the safety guards")
    sync.add_argument("--dry-run", action="store_true", help="plan only, change nothing")
    sync.add_argument("--resync", action="store_true", help="rebuild the snapshot (a union)")
    sync.add_argument("--ignore-file", action="append", default=[], metavar="PATH")
    sync.add_argument("--transfers", type=int, default=8)
    sync.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    check = commands.add_parser(
        "check",
        parents=[common],
        help="compare the folder with the prefix and say what differs; changes nothing",
    )
    check.add_argument("local", help="the local project folder")
    check.add_argument("remote", help="s3://BUCKET/PREFIX")
    check.add_argument(
        "--full", action="store_true", help="compare every file, trusting no snapshot (a HEAD each)"
    )
    check.add_argument("--ignore-file", action="append", default=[], metavar="PATH")
    check.add_argument("--transfers", type=int, default=8)

    status = commands.add_parser(
        "status",
        help="whether a project was synced, its recent runs, and whether a sync is running",
    )
    status.add_argument("local", help="the local project folder")
    status.add_argument("remote", help="s3://BUCKET/PREFIX")
    status.add_argument("--state-dir")
    status.add_argument("--runs", type=int, default=10, help="how many recent runs to show")
    status.add_argument("--json", action="store_true", help="print the status as one JSON object")

    trash = commands.add_parser(
        "trash",
        parents=[common],
        help="list what syncs of a project deleted or overwrote (kept on both sides)",
    )
    trash.add_argument("remote", help="s3://BUCKET/PREFIX of the project")
    trash.add_argument(
        "--side", choices=["local", "remote"], help="one trash only (local: no S3 request)"
    )

    restore = commands.add_parser(
        "restore",
        parents=[common],
        help="put a deleted or overwritten version back into the local folder",
        description="Restores the newest trashed version of PATH (or the one --run/--side "
        "name) into LOCAL, at PATH if that is free, else beside it as "
        "STEM.restored-RUNTIME.SUFFIX. Nothing is replaced; the next sync uploads it.",
    )
    restore.add_argument("local", help="the local project folder")
    restore.add_argument("remote", help="s3://BUCKET/PREFIX of the project")
    restore.add_argument("path", help="the project-relative path, as 'bmsync trash' lists it")
    restore.add_argument("--run", help="the run id whose trash to restore from")
    restore.add_argument(
        "--side",
        choices=["local", "remote"],
        help="which trash to take it from (local: no S3 request, works offline)",
    )

    demo = commands.add_parser(
        "demo", help="sync a sample knowledge base with a throwaway local S3 server"
    )
    demo.add_argument("--json", action="store_true")
    return parser


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"--header must look like 'Name: value', not {value!r}")
        headers[name.strip()] = content.strip()
    return headers


def exit_code(report: SyncReport) -> int:
    if report.status == "aborted":
        return EXIT_ABORTED
    return EXIT_PARTIAL if report.errors else EXIT_OK


def _progress_printer(enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None

    def show(event: ProgressEvent) -> None:
        sys.stderr.write(f"\r[{event.done}/{event.total}] {event.action} {event.path[:60]:<60}")
        if event.done == event.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _error_report(err: BmsyncError) -> dict[str, Any]:
    report = SyncReport(status="aborted", abort_reason=str(err)).to_dict()
    report["error_type"] = type(err).__name__
    return report


def _s3_config(args: argparse.Namespace) -> S3Config:
    return S3Config(
        endpoint_url=args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
        region=args.region,
        headers=parse_headers(args.header),
    )


def run_sync_command(args: argparse.Namespace) -> int:
    try:
        config = _s3_config(args)
        report = asyncio.run(
            sync_project(
                args.local,
                args.remote,
                s3=config,
                state_dir=args.state_dir,
                profile=args.profile,
                conflict=args.conflict,
                max_delete=args.max_delete,
                dry_run=args.dry_run,
                resync=args.resync,
                force=args.force,
                ignore_files=args.ignore_file,
                transfers=args.transfers,
                progress=_progress_printer(not (args.quiet or args.json)),
            )
        )
    except BmsyncError as err:
        if args.json:
            print(json.dumps(_error_report(err)))
        else:
            print(f"bmsync: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("bmsync: interrupted; the next run picks up where this one stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
    return exit_code(report)


def run_check_command(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(
            check_project(
                args.local,
                args.remote,
                s3=_s3_config(args),
                state_dir=args.state_dir,
                full=args.full,
                ignore_files=args.ignore_file,
                transfers=args.transfers,
            )
        )
    except BmsyncError as err:
        return _fail(err, args.json)
    print(json.dumps(report.to_dict()) if args.json else report.summary())
    return EXIT_OK if report.in_sync else EXIT_PARTIAL


def run_status_command(args: argparse.Namespace) -> int:
    try:
        status = asyncio.run(
            project_status(args.local, args.remote, state_dir=args.state_dir, runs=args.runs)
        )
    except BmsyncError as err:
        return _fail(err, args.json)
    print(json.dumps(status.to_dict()) if args.json else status.summary())
    return EXIT_OK


def run_trash_command(args: argparse.Namespace) -> int:
    try:
        versions = asyncio.run(
            list_trash(args.remote, side=args.side, s3=_s3_config(args), state_dir=args.state_dir)
        )
    except BmsyncError as err:
        return _fail(err, args.json)
    if args.json:
        print(json.dumps({"versions": [v.to_dict() for v in versions]}))
    elif not versions:
        print("The trash of this project is empty.")
    else:
        print(f"{'deleted or overwritten (UTC)':<28} {'trash':<6} {'size':>9}  path")
        for v in versions:
            number = f" (#{v.number})" if v.number > 1 else ""
            when = f"{v.deleted_at:%Y-%m-%d %H:%M:%S}"
            print(f"{when:<28} {v.side:<6} {v.size:>9}  {v.path}{number}   [run {v.run_id}]")
        print("Restore one with: bmsync restore LOCAL REMOTE PATH [--run RUN] [--side SIDE]")
    return EXIT_OK


def run_restore_command(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(
            restore_file(
                args.local,
                args.remote,
                args.path,
                run_id=args.run,
                side=args.side,
                s3=_s3_config(args),
                state_dir=args.state_dir,
            )
        )
    except BmsyncError as err:
        return _fail(err, args.json)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        v = result.version
        print(
            f"Restored {v.path} as it was before the run of {v.deleted_at:%Y-%m-%d %H:%M:%S} "
            f"UTC ({v.side} trash) to {result.restored_to}; the next sync uploads it."
        )
    return EXIT_OK


def _fail(err: BmsyncError, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": str(err), "error_type": type(err).__name__}))
    else:
        print(f"bmsync: {err}", file=sys.stderr)
    return err.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from bmsync.demo import run_demo

        return run_demo(as_json=args.json)
    if args.command == "check":
        return run_check_command(args)
    if args.command == "status":
        return run_status_command(args)
    if args.command == "trash":
        return run_trash_command(args)
    if args.command == "restore":
        return run_restore_command(args)
    return run_sync_command(args)


if __name__ == "__main__":
    sys.exit(main())
