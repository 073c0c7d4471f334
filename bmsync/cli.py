"""The `bmsync` command: argument parsing and rendering only, no sync logic.

Exit codes (a contract): 0 in sync or dry run done; 1 finished with per-file errors; 2 usage or
configuration error; 3 safety abort, nothing changed; 4 another sync of this project is running;
130 interrupted (Ctrl-C); 143 stopped by SIGTERM (systemd, launchd, `docker stop`, `kill`),
which ends a command exactly as Ctrl-C does (`_until_terminated`). `check` exits 0 when both
sides hold the same files, 1 when something differs or could not be compared. `status`, `trash`
and `restore` exit 0 when done, 1 when a restore could not write the version back. All exit 2
for a usage, configuration, state or S3 error (and `restore` for a path the trash does not
hold).

Every subcommand goes through `run_command`: it runs the command's coroutine, prints the result
(with `--json` exactly one JSON object on stdout, else a summary for a person) and maps the
outcome to the exit code. A failure prints one line on stderr and, with `--json`, one object of
the same shape for every command (`error_object`). Each command is imported only when it runs,
so `bmsync --help` and `bmsync --version` load neither the S3 client nor the snapshot store.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import dataclasses
import gc
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from bmsync import __version__, jsontext
from bmsync.errors import BmsyncError, ConfigError
from bmsync.options import PROFILES, ConflictStrategy

if TYPE_CHECKING:
    from bmsync.commands.projects import CloudSource
    from bmsync.commands.recover import TrashedVersion
    from bmsync.remotes import S3Config
    from bmsync.report import Guard, SyncReport
    from bmsync.terminal import Terminal

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_ABORTED, EXIT_LOCKED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
"""128 + SIGINT: what a shell reports for a program stopped by Ctrl-C."""
EXIT_TERMINATED = 143
"""128 + SIGTERM: what a shell reports for a program stopped by `kill`, systemd or Docker."""


class UsageError(ConfigError):
    """The command line itself is wrong (argparse found it); exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; here the error goes through the runner's
    one error path instead, so `--json` gets its one JSON object even for a bad argument."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(f"{message}; run '{self.prog} --help'")


def _at_least_one(value: str) -> int:
    """`--transfers`: 0 would leave every transfer waiting for a free slot forever."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number


EPILOG = """\
exit codes:
  0    done: both sides in sync, or a dry run finished (check: they hold the same files)
  1    finished, but some files could not be synced (check: something differs)
  2    usage, configuration, state or S3 error (the message says what to do)
  3    a safety guard stopped the run before it changed anything (max-delete, empty side,
       push/pull conflicts)
  4    another sync of this project is running
  130  interrupted (Ctrl-C): each file holds its old or its new version; run it again
  143  stopped by SIGTERM (systemd, launchd, docker stop, kill): as Ctrl-C

environment:
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                              S3 credentials (else AWS_PROFILE, ~/.aws/credentials, roles)
  AWS_PROFILE                 the profile of ~/.aws/config and ~/.aws/credentials to use
  AWS_DEFAULT_REGION          the S3 region when --region is not given
  AWS_ENDPOINT_URL            the S3 endpoint when --endpoint-url is not given
  BMSYNC_STATE_DIR            where snapshots, locks and the local trash live
                              (default ~/.basic-memory/bisync-state)
  BASIC_MEMORY_CONFIG_DIR     basic-memory's config folder: its config.json and the global
                              .bmignore (default $XDG_CONFIG_HOME/basic-memory, else
                              ~/.basic-memory)
  XDG_CONFIG_HOME             see BASIC_MEMORY_CONFIG_DIR
  BASIC_MEMORY_CLOUD_API_KEY  the Basic Memory Cloud API key (sync-all --cloud)
  BASIC_MEMORY_CLOUD_HOST     the Cloud API's address when --cloud names none
  RCLONE_CONFIG               the rclone config file where the basic-memory drop-in
                              (bmsync.integrations.basic_memory) finds the keys `bm cloud
                              setup` wrote (default: rclone's own place)

On a terminal, commands that transfer files show their progress on stderr; with --json, -q or
output into a pipe or a file, only the result is printed. 'bmsync COMMAND --help' for each."""

CONFLICT_HELP = (
    "how a file changed differently on both sides is settled: newer, older, larger, smaller, "
    "local or remote keeps that version at the path and the other beside it as "
    "NAME.conflict-TIME.EXT; keep-both keeps the remote version at the path (default: the "
    "profile's)"
)
PROFILE_HELP = (
    "safe (max 10 deletes, conflicts keep both), balanced (max 25, the newer version wins; "
    "the default) or fast (max 50, the newer wins, no check after each transfer)"
)


def _output_options() -> _Parser:
    """What every command takes: how much it says, and in which form."""
    output = _Parser(add_help=False)
    output.add_argument(
        "--json", action="store_true",
        help="print the result as one JSON object on stdout, and nothing else there",
    )  # fmt: skip
    talk = output.add_mutually_exclusive_group()
    talk.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress, and only errors on stderr",
    )  # fmt: skip
    talk.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="say each file as it is transferred or deleted, and log what is done; -vv also "
        "the snapshot-only records and the debug log",
    )  # fmt: skip
    return output


def _s3_options() -> _Parser:
    """What every command that talks to the bucket takes (credentials: AWS environment)."""
    common = _Parser(add_help=False, parents=[_output_options()])
    common.add_argument(
        "--endpoint-url", help="S3 endpoint, e.g. https://fly.storage.tigris.dev (default: "
        "$AWS_ENDPOINT_URL, else AWS)",
    )  # fmt: skip
    common.add_argument("--region", help="S3 region (default: $AWS_DEFAULT_REGION)")
    common.add_argument(
        "--header", action="append", default=[], metavar="'Name: value'",
        help="an HTTP header sent with every S3 request, e.g. 'X-Tigris-Consistent: true' "
        "(repeatable)",
    )  # fmt: skip
    _state_dir(common)
    return common


def _state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", metavar="DIR",
        help="where snapshots, locks and the local trash live (default: $BMSYNC_STATE_DIR, "
        "else ~/.basic-memory/bisync-state)",
    )  # fmt: skip


def _pair(parser: argparse.ArgumentParser, local: str = "the local project folder") -> None:
    parser.add_argument("local", help=local)
    parser.add_argument("remote", help="s3://BUCKET/PREFIX")


def _ignore_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ignore-file", action="append", default=[], metavar="PATH",
        help="more gitignore-style patterns from this file, besides .bmignore and the "
        "folder's .gitignore (repeatable)",
    )  # fmt: skip


def _transfers(parser: argparse.ArgumentParser, what: str = "transfers") -> None:
    parser.add_argument(
        "--transfers", type=_at_least_one, default=8, metavar="N",
        help=f"how many {what} run at once (default 8)",
    )  # fmt: skip


def _sync_choices(parser: argparse.ArgumentParser, max_delete: str) -> None:
    """The options of a two-way sync: profile, conflicts, the delete limit."""
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default="balanced", help=PROFILE_HELP
    )
    parser.add_argument(
        "--conflict", choices=[s.value for s in ConflictStrategy], help=CONFLICT_HELP
    )
    parser.add_argument("--max-delete", metavar="N|N%", help=max_delete)


def _force(parser: argparse.ArgumentParser, what: str = "the safety guards") -> None:
    parser.add_argument(
        "--force", action="store_true",
        help=f"lift {what} (max-delete; an empty folder or remote facing a full one)",
    )  # fmt: skip


def _dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="plan only, change nothing")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bmsync",
        description="Bidirectional sync of a folder of notes with an S3 prefix.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bmsync {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )
    common, output = _s3_options(), _output_options()

    sync = commands.add_parser(
        "sync", parents=[common], help="sync a local folder with an S3 prefix, both ways"
    )
    _pair(sync, "the local project folder (created if missing)")
    _sync_choices(sync, "per-side delete limit: a count or a share of the files (default: the "
                  "profile's)")  # fmt: skip
    _force(sync)
    _dry_run(sync)
    sync.add_argument(
        "--resync", action="store_true",
        help="ignore (and, if damaged, rebuild) the snapshot: a union that deletes nothing",
    )  # fmt: skip
    _ignore_file(sync)
    _transfers(sync)
    _dir_markers_option(sync)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="compare the folder with the prefix and say what differs; changes nothing",
    )
    _pair(check)
    check.add_argument(
        "--full", action="store_true", help="compare every file, trusting no snapshot (a HEAD each)"
    )
    check.add_argument(
        "--one-way",
        action="store_true",
        help="only what the remote lacks or holds differently (files only the remote holds are "
        "no difference)",
    )
    _ignore_file(check)
    _transfers(check, "comparisons")

    for name, source, destination in (("push", "folder", "remote"), ("pull", "remote", "folder")):
        one_way = commands.add_parser(
            name,
            parents=[common],
            help=f"copy new and changed files from the {source} to the {destination}; "
            "deletes nothing",
            description=f"Copies new and changed files from the {source} to the {destination}."
            f" Nothing is deleted. A file changed only on the {destination} since the last "
            "sync is left alone; one that differs on both sides is a conflict: with the "
            "default --conflict fail nothing at all is transferred (exit 3).",
        )
        _pair(one_way)
        one_way.add_argument(
            "--conflict",
            choices=["fail", "keep-local", "keep-remote", "keep-cloud", "keep-both"],
            default="fail",
            help="for a file that differs on both sides: transfer nothing (fail), keep one "
            "side's version on the destination, or put the incoming one beside it (keep-both); "
            "keep-cloud is keep-remote",
        )
        _transfer_options(one_way)
        if name == "push":
            _dir_markers_option(one_way)

    mirror = commands.add_parser(
        "mirror",
        parents=[common],
        help="make the remote identical to the folder (deletes into the remote trash)",
    )
    _pair(mirror)
    mirror.add_argument(
        "--delete-excluded",
        action="store_true",
        help="also delete remote files the ignore rules exclude",
    )
    mirror.add_argument("--max-delete", metavar="N|N%", help="delete limit (default 25)")
    _force(mirror)
    _transfer_options(mirror)
    _dir_markers_option(mirror)

    prune = commands.add_parser(
        "prune",
        parents=[common],
        help="list the remote files the ignore rules exclude; with --yes delete them",
    )
    _pair(prune, "the local project folder (its ignore rules apply)")
    prune.add_argument("--yes", action="store_true", help="delete them (into the remote trash)")
    prune.add_argument("--max-delete", metavar="N|N%", help="delete limit (default 25)")
    _force(prune, "the delete limit")
    _ignore_file(prune)
    _transfers(prune, "deletes")

    every = commands.add_parser(
        "sync-all",
        parents=[common],
        help="sync every project: each top-level folder of ROOT with the prefix of its name",
        description="Every top-level folder of ROOT is a project synced with the prefix of the "
        "same name below REMOTE, each with its own snapshot and lock; a project only in the "
        "bucket gets a local folder. A project that fails does not stop the others; the exit "
        "code is the worst of theirs.",
    )
    every.add_argument(
        "root", nargs="?",
        help="the folder that holds one folder per project (not needed with --config)",
    )  # fmt: skip
    every.add_argument(
        "remote", nargs="?",
        help="s3://BUCKET[/PREFIX] that holds one prefix per project (not needed with --cloud)",
    )  # fmt: skip
    every.add_argument(
        "--cloud", nargs="?", const="", metavar="URL",
        help="use the Basic Memory Cloud: its bucket, credentials and projects (URL: the API; "
        "default: basic-memory's configured host). Local folders with no cloud project are "
        "registered first; --endpoint-url and --region still override the S3 endpoint",
    )  # fmt: skip
    every.add_argument(
        "--config", nargs="?", const="", metavar="FILE",
        help="sync the projects basic-memory's config.json names (local_sync_path), each with "
        "its own folder (FILE: another config file)",
    )  # fmt: skip
    every.add_argument(
        "--projects-concurrency", type=_at_least_one, default=2, metavar="N",
        help="how many projects sync at once (default 2)",
    )  # fmt: skip
    _sync_choices(every, "per-side delete limit, per project: a count or a share of the files")
    _force(every)
    _dry_run(every)
    _transfers(every, "transfers of each project")
    _dir_markers_option(every)
    every.add_argument(
        "--watch", action="store_true",
        help="keep going: sync each project on its local changes and poll the remote; Ctrl-C "
        "stops it (exit 0)",
    )  # fmt: skip
    every.add_argument(
        "--interval", type=float, default=60.0, metavar="SECONDS",
        help="with --watch: how often to look for remote changes (default 60)",
    )  # fmt: skip

    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="keep a folder and a prefix in sync: on every local change, and polling the remote",
        description="Syncs now, then within about two seconds of every local change, and "
        "every --interval seconds for changes made elsewhere. Failed runs are retried with "
        "backoff; the guards still apply. Ctrl-C stops it between actions (exit 0). -q prints "
        "nothing per run.",
    )
    _pair(watch)
    watch.add_argument(
        "--interval", type=float, default=60.0, metavar="SECONDS",
        help="how often to look for remote changes (default 60)",
    )  # fmt: skip
    _sync_choices(watch, "per-side delete limit of each run: a count or a share of the files")
    _ignore_file(watch)
    _transfers(watch)

    ls = commands.add_parser(
        "ls", parents=[common], help="list the files below a remote prefix (size, time, ETag)"
    )
    ls.add_argument("remote", help="s3://BUCKET/PREFIX")
    ls.add_argument("path", nargs="?", help="only this file, or this folder and what it holds")

    reset = commands.add_parser(
        "reset",
        parents=[output],
        help="forget the pair's last sync (kept aside): the next sync is a union, no deletes",
    )
    _pair(reset)
    _state_dir(reset)

    status = commands.add_parser(
        "status",
        parents=[output],
        help="whether a project was synced, its recent runs, and whether a sync is running",
    )
    _pair(status)
    _state_dir(status)
    status.add_argument("--runs", type=int, default=10, help="how many recent runs to show")

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
    _pair(restore)
    restore.add_argument("path", help="the project-relative path, as 'bmsync trash' lists it")
    restore.add_argument("--run", help="the run id whose trash to restore from")
    restore.add_argument(
        "--side",
        choices=["local", "remote"],
        help="which trash to take it from (local: no S3 request, works offline)",
    )

    commands.add_parser(
        "demo",
        parents=[output],
        help="sync a sample knowledge base with a throwaway local S3 server",
    )
    return parser


def _transfer_options(parser: argparse.ArgumentParser) -> None:
    """What push, pull and mirror take besides their own options."""
    _dry_run(parser)
    _ignore_file(parser)
    _transfers(parser)


def _dir_markers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir-markers",
        action="store_true",
        help="keep a 'folder/' marker object for every folder, and sync empty folders (TigrisFS "
        "mounts such as bm cloud mount show only folders that have one)",
    )


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


# -- the runner -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command hands the runner: its result for a program and for a person."""

    data: dict[str, Any]
    """The `--json` object."""
    text: str
    """The summary for a terminal (stdout)."""
    code: int = EXIT_OK
    hint: str | None = None
    """What to do next, on stderr after the result (e.g. the flag that lifts a guard)."""
    result: object = None
    """The result itself, for a terminal to draw as a table (`bmsync.rich_view`)."""


@dataclass(frozen=True, slots=True)
class Command:
    run: Callable[[argparse.Namespace, Terminal], Coroutine[Any, Any, Outcome]]
    if_interrupted: str
    """Said on Ctrl-C: the state the command leaves things in."""
    stopped_by_interrupt: Callable[[argparse.Namespace], bool] = lambda args: False
    """Whether Ctrl-C is how this command ends (a watch): exit 0, not 130."""
    transfers: bool = False
    """Whether it moves files, and so shows live progress on a terminal."""


def error_object(message: str, error_type: str, code: int) -> dict[str, Any]:
    """The one JSON shape of a failed command, whichever it was. `abort_reason` repeats the
    message under the name a sync report gives it, so a script reading `bmsync sync --json`
    finds why a run stopped in the same field whether a guard or an error stopped it."""
    return {
        "status": "error",
        "error": message,
        "error_type": error_type,
        "exit_code": code,
        "abort_reason": message,
    }


def _fail(message: str, error_type: str, code: int, as_json: bool) -> int:
    print(f"bmsync: {message}", file=sys.stderr)
    if as_json:
        print(jsontext.dumps(error_object(message, error_type, code)))
    return code


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one subcommand to its exit code; see the module docstring."""
    from bmsync.terminal import QUIET, Terminal

    as_json = bool(getattr(args, "json", False))
    verbosity = QUIET if getattr(args, "quiet", False) else int(getattr(args, "verbose", 0))
    terminal = Terminal.for_command(
        verbosity=verbosity, as_json=as_json, transfers=command.transfers
    )
    try:
        with terminal:  # the live progress is off the screen before anything else is printed
            outcome = asyncio.run(_until_terminated(command.run(args, terminal)))
    except BmsyncError as err:
        return _fail(str(err), type(err).__name__, err.exit_code, as_json)
    except (KeyboardInterrupt, _Terminated) as stopped:
        # asyncio.run has already cancelled the command and let it clean up (the lock released,
        # temporary files removed), so only the message is left to say.
        if command.stopped_by_interrupt(args):
            print(f"bmsync: {command.if_interrupted}", file=sys.stderr)
            if as_json:
                print(jsontext.dumps({"status": "stopped", "message": command.if_interrupted}))
            return EXIT_OK
        if isinstance(stopped, _Terminated):
            return _fail(command.if_interrupted, "SIGTERM", EXIT_TERMINATED, as_json)
        return _fail(command.if_interrupted, "KeyboardInterrupt", EXIT_INTERRUPTED, as_json)
    try:
        terminal.show(outcome.data, outcome.text, outcome.result)
        if outcome.hint:
            print(f"bmsync: {outcome.hint}", file=sys.stderr)
    except BrokenPipeError:
        _stop_writing_to_closed_pipes()
    return outcome.code


class _Terminated(Exception):
    """The command was cancelled because the process got SIGTERM."""


async def _until_terminated(work: Coroutine[Any, Any, Outcome]) -> Outcome:
    """`work`, cancelled on SIGTERM as `asyncio.run` cancels it on Ctrl-C, so a stop by
    systemd, launchd, `docker stop` or a parent's timeout cleans up the same way (temporary
    files removed, the run recorded as interrupted, the lock released) and is reported
    (`_Terminated`), instead of the process dying mid-write with nothing said.

    Only the command line installs this handler: a library call (`sync_project` inside
    basic-memory) leaves its host's signal handling alone. Where the event loop cannot take
    signal handlers (Windows), SIGTERM keeps its default.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):
        return await work
    try:
        outcome = await work
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    if terminated:  # the command took the cancel as its end and returned
        raise _Terminated
    return outcome


def _stop_writing_to_closed_pipes() -> None:
    """The reader of the report went away (`bmsync sync --json | head -c 100`): the work is
    done and recorded, so the exit code stays the work's, and no traceback follows. The
    standard streams are pointed at the null device, or the interpreter's last flush would
    fail on the same pipe."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(null, stream.fileno())
    finally:
        os.close(null)


# -- the commands: each imports what it runs only when it runs --------------------------------


def _s3_config(args: argparse.Namespace) -> S3Config:
    from bmsync.remotes import S3Config

    return S3Config(
        endpoint_url=args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
        region=args.region,
        headers=parse_headers(args.header),
    )


GUARD_HINTS: dict[Guard, str] = {
    "empty_side": "if that side really was emptied, run again with --force",
    "max_delete": "review them with --dry-run; if the deletes are intended, run again with "
    "--force or a higher --max-delete N|N%",
    "conflicts": "choose with --conflict keep-local, keep-remote or keep-both",
}
"""What the CLI adds to a guard's reason: the flags that lift it (the library, which has no
flags, says it in words)."""


def _pair_options(args: argparse.Namespace, terminal: Terminal) -> dict[str, Any]:
    """What every command that syncs a (folder, remote) pair takes from its command line."""
    return {
        "s3": _s3_config(args),
        "state_dir": args.state_dir,
        "ignore_files": args.ignore_file,
        "transfers": args.transfers,
        "progress": terminal.progress(),
    }


async def _sync(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.run_pair import sync_project

    report = await sync_project(
        args.local,
        args.remote,
        profile=args.profile,
        conflict=args.conflict,
        max_delete=args.max_delete,
        dry_run=args.dry_run,
        resync=args.resync,
        force=args.force,
        dir_markers=args.dir_markers,
        **_pair_options(args, terminal),
    )
    return _report_outcome(report)


async def _check(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.check import check_project

    report = await check_project(
        args.local,
        args.remote,
        s3=_s3_config(args),
        state_dir=args.state_dir,
        full=args.full,
        one_way=args.one_way,
        ignore_files=args.ignore_file,
        transfers=args.transfers,
    )
    code = EXIT_OK if report.in_sync else EXIT_PARTIAL
    return Outcome(report.to_dict(), report.summary(), code, result=report)


async def _status(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.status import project_status

    status = await project_status(args.local, args.remote, state_dir=args.state_dir, runs=args.runs)
    return Outcome(status.to_dict(), status.summary())


async def _trash(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.recover import list_trash

    versions = await list_trash(
        args.remote, side=args.side, s3=_s3_config(args), state_dir=args.state_dir
    )
    return Outcome({"versions": [v.to_dict() for v in versions]}, _trash_table(versions))


def _trash_table(versions: Sequence[TrashedVersion]) -> str:
    if not versions:
        return "The trash of this project is empty."
    lines = [f"{'deleted or overwritten (UTC)':<28} {'trash':<6} {'size':>9}  path"]
    for v in versions:
        number = f" (#{v.number})" if v.number > 1 else ""
        when = f"{v.deleted_at:%Y-%m-%d %H:%M:%S}"
        lines.append(f"{when:<28} {v.side:<6} {v.size:>9}  {v.path}{number}   [run {v.run_id}]")
    lines.append("Restore one with: bmsync restore LOCAL REMOTE PATH [--run RUN] [--side SIDE]")
    return "\n".join(lines)


async def _restore(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.recover import restore_file

    result = await restore_file(
        args.local,
        args.remote,
        args.path,
        run_id=args.run,
        side=args.side,
        s3=_s3_config(args),
        state_dir=args.state_dir,
    )
    v = result.version
    text = (
        f"Restored {v.path} as it was before the run of {v.deleted_at:%Y-%m-%d %H:%M:%S} "
        f"UTC ({v.side} trash) to {result.restored_to}; the next sync uploads it."
    )
    return Outcome(result.to_dict(), text)


def _report_outcome(report: SyncReport) -> Outcome:
    hint = GUARD_HINTS[report.guard] if report.guard else None
    return Outcome(report.to_dict(), report.summary(), exit_code(report), hint, report)


async def _push_or_pull(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands import transfer

    common = {"conflict": args.conflict, "dry_run": args.dry_run} | _pair_options(args, terminal)
    if args.command == "push":
        report = await transfer.push_project(
            args.local, args.remote, dir_markers=args.dir_markers, **common
        )
    else:
        report = await transfer.pull_project(args.local, args.remote, **common)
    return _report_outcome(report)


async def _mirror(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.transfer import mirror_project

    report = await mirror_project(
        args.local,
        args.remote,
        delete_excluded=args.delete_excluded,
        max_delete=args.max_delete,
        force=args.force,
        dry_run=args.dry_run,
        dir_markers=args.dir_markers,
        **_pair_options(args, terminal),
    )
    return _report_outcome(report)


async def _prune(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.transfer import prune_project

    report = await prune_project(
        args.local,
        args.remote,
        yes=args.yes,
        max_delete=args.max_delete,
        force=args.force,
        **_pair_options(args, terminal),
    )
    outcome = _report_outcome(report)
    if report.dry_run and report.deleted_remote and not report.guard:
        return dataclasses.replace(outcome, hint="run again with --yes to delete them")
    return outcome


ALL_EXIT_CODES = {
    "ok": EXIT_OK,
    "partial": EXIT_PARTIAL,
    "aborted": EXIT_ABORTED,
    "locked": EXIT_LOCKED,
    "error": EXIT_USAGE,
}
"""sync-all exits with the worst project's code (a project that could not run at all is
worst, then one another sync holds, then one a guard stopped)."""


async def _sync_all(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.all import sync_all

    if args.watch:
        return await _watch_all(args, terminal)
    result = await sync_all(
        args.root,
        args.remote,
        cloud=_cloud_source(args),
        config_file=args.config or None,
        use_config=args.config is not None,
        projects_concurrency=args.projects_concurrency,
        s3=_s3_config(args),
        state_dir=args.state_dir,
        profile=args.profile,
        conflict=args.conflict,
        max_delete=args.max_delete,
        dry_run=args.dry_run,
        force=args.force,
        transfers=args.transfers,
        dir_markers=args.dir_markers,
        progress=terminal.named_progress(),
    )
    code = ALL_EXIT_CODES.get(
        result.status, EXIT_LOCKED if result.status == "locked" else EXIT_USAGE
    )
    return Outcome(result.to_dict(), result.summary(), code, result=result)


async def _watch(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.watch import watch_project

    def show(report: SyncReport) -> None:
        terminal.end_run()
        if args.quiet:
            return
        if args.json:
            print(jsontext.dumps(report.to_dict()), flush=True)
        else:
            print(report.summary(), flush=True)

    await watch_project(
        args.local,
        args.remote,
        interval=args.interval,
        on_synced=show,
        s3=_s3_config(args),
        state_dir=args.state_dir,
        ignore_files=args.ignore_file,
        profile=args.profile,
        conflict=args.conflict,
        max_delete=args.max_delete,
        transfers=args.transfers,
        progress=terminal.progress(),
    )
    return Outcome({"status": "stopped"}, "watch stopped")


def _cloud_source(args: argparse.Namespace) -> CloudSource | None:
    if args.cloud is None:
        return None
    from bmsync.commands.projects import CloudSource

    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    return CloudSource(args.cloud or None, endpoint, args.region)


async def _watch_all(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.watch_all import watch_all

    def show(name: str, report: SyncReport) -> None:
        terminal.end_run(name)
        if args.quiet:
            return
        if args.json:
            print(jsontext.dumps({"project": name} | report.to_dict()), flush=True)
        else:
            print(f"{name}: " + report.summary(), flush=True)

    await watch_all(
        args.root,
        args.remote,
        cloud=_cloud_source(args),
        config_file=args.config or None,
        use_config=args.config is not None,
        interval=args.interval,
        projects_concurrency=args.projects_concurrency,
        on_synced=show,
        s3=_s3_config(args),
        state_dir=args.state_dir,
        profile=args.profile,
        conflict=args.conflict,
        max_delete=args.max_delete,
        transfers=args.transfers,
        force=args.force,  # refused with a reason, rather than silently dropped
        dry_run=args.dry_run,
        progress=terminal.named_progress(),
    )
    return Outcome({"status": "stopped"}, "watch stopped")


async def _ls(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.ls import list_remote

    files = await list_remote(args.remote, args.path, s3=_s3_config(args))
    return Outcome(files.to_dict(), files.summary())


async def _reset(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.reset import reset_project

    result = await reset_project(args.local, args.remote, state_dir=args.state_dir)
    return Outcome(result.to_dict(), result.summary())


async def _demo(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.demo import run_demo

    story = await run_demo()
    return Outcome(story.to_dict(), story.summary(), EXIT_OK if story.ok else EXIT_PARTIAL)


COMMANDS = {
    "sync": Command(
        _sync,
        "sync interrupted: each file holds its old or its new version, and the snapshot "
        "records what finished; the next run picks up where this one stopped",
        transfers=True,
    ),
    "check": Command(_check, "check interrupted; it changes nothing, so nothing is half-done"),
    "status": Command(_status, "status interrupted; it only reads, so nothing changed"),
    "trash": Command(_trash, "trash listing interrupted; it only reads, so nothing changed"),
    "restore": Command(
        _restore,
        "restore interrupted: the file was restored whole or not at all (look for it in the "
        "folder), and the trash still holds the version",
    ),
    "push": Command(
        _push_or_pull,
        "push interrupted: each remote file holds its old or its new version; run it again",
        transfers=True,
    ),
    "pull": Command(
        _push_or_pull,
        "pull interrupted: each local file holds its old or its new version; run it again",
        transfers=True,
    ),
    "mirror": Command(
        _mirror,
        "mirror interrupted: each remote file holds its old or its new version, and what was "
        "deleted is in the remote trash; run it again",
        transfers=True,
    ),
    "prune": Command(
        _prune,
        "prune interrupted: what was deleted is in the remote trash; run it again",
        transfers=True,
    ),
    "sync-all": Command(
        _sync_all,
        "sync-all stopped: each project stopped between actions, each file holds its old "
        "or its new version; the next run picks up where this one stopped",
        stopped_by_interrupt=lambda args: bool(args.watch),
        transfers=True,
    ),
    "watch": Command(
        _watch,
        "watch stopped: the run in progress stopped between actions, each file holds its old "
        "or its new version",
        stopped_by_interrupt=lambda args: True,
        transfers=True,
    ),
    "ls": Command(_ls, "ls interrupted; it only reads, so nothing changed"),
    "reset": Command(_reset, "reset interrupted: the snapshot is either in place or set aside"),
    "demo": Command(_demo, "demo interrupted; its throwaway server and folder are removed"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    jsontext.escape_unwritable()  # a name that is not UTF-8 never ends in a traceback
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        # argparse has not said whether --json was given; the raw arguments do.
        return _fail(str(err), type(err).__name__, err.exit_code, "--json" in argv)
    return run_command(COMMANDS[args.command], args)


def entry() -> int:
    """The `bmsync` command: `main`, then an exit that skips the interpreter's teardown.

    Tearing down the ~800 modules and ~110,000 objects a sync loads (botocore's S3 model,
    SQLAlchemy, aiohttp) took 0.15-0.3 s here, after the work was done: a fifth of a small
    project's whole run. By the time `main` returns there is nothing left for it to do: every
    snapshot transaction is committed and the database closed, the event loop has finished and
    joined its worker threads. So the standard streams are flushed, the `atexit` handlers run
    (logging's flush among them) and the process leaves with `os._exit`. When another thread is
    still alive, or `main` is used as a library call, the usual exit is kept.

    The command also lets aiohttp's import leave the CA certificates of its default TLS
    contexts, which bmsync never uses, to a thread (`s3/cacerts.py`): about 55 ms of start-up;
    and a syncing command imports its engine with the cyclic collector paused (`_load_engine`).
    """
    from bmsync.s3 import cacerts

    cacerts.defer_for_this_process()
    if _command_of(sys.argv[1:]) in _ENGINE_COMMANDS:
        _load_engine()
    code = main()
    if threading.active_count() == 1:
        _exit_now(code)
    return code


_ENGINE_COMMANDS = frozenset(
    {"sync", "push", "pull", "mirror", "prune", "check", "sync-all", "watch"}
)
"""The commands that open a snapshot and an S3 client, whatever their options."""
_ENGINE_MODULES = ("bmsync.s3.remote", "bmsync.state.store", "bmsync.commands.run_pair")


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` runs; None when it only asks for help."""
    if "-h" in argv or "--help" in argv:
        return None
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _load_engine() -> None:
    """Import what a syncing command will load anyway, with the cyclic collector paused, then
    freeze what was loaded.

    Importing SQLAlchemy, botocore, aiohttp and bmsync makes about 250,000 objects that live as
    long as the process, and the collector, started every 700 allocations, scanned them again
    and again: 169 collections and 37 ms here, for no garbage at all. Frozen (`gc.freeze`),
    they are out of every later collection's way too. An import that fails is left for the
    command to meet, and report, where it needs the module.
    """
    gc.disable()
    try:
        for name in _ENGINE_MODULES:
            importlib.import_module(name)
    except ImportError:
        pass
    finally:
        gc.freeze()
        gc.enable()


def _exit_now(code: int) -> NoReturn:
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: what Python itself exits with when its final flush fails
        os._exit(120)
    os._exit(code)


if __name__ == "__main__":
    sys.exit(entry())
