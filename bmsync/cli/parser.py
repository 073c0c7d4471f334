"""The `bmsync` command line: every subcommand, its arguments and their help texts.

Parsing only: what an argument does is the handlers' (`bmsync.cli.handlers`), what a result
and an error print is the runner's (`bmsync.cli.runner`). A usage error is raised as
`UsageError`, not exited on, so with `--json` it still gets its one JSON object.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from bmsync import __version__
from bmsync.errors import ConfigError
from bmsync.options import PROFILES, TwoWayConflict


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


def _toggle(help: str) -> dict[str, Any]:
    return {"action": "store_true", "help": help}


RUN_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "profile": (
        "--profile",
        {"choices": sorted(PROFILES), "default": "balanced", "help": PROFILE_HELP},
    ),
    "conflict": (
        "--conflict",
        {"choices": [s.value for s in TwoWayConflict], "help": CONFLICT_HELP},
    ),
    "max_delete": (
        "--max-delete",
        {
            "metavar": "N|N%",
            "help": "per-side delete limit: a count or a share of the files (default: the "
            "profile's)",
        },
    ),
    "force": (
        "--force",
        _toggle("lift the safety guards (max-delete; an empty folder or remote facing a full one)"),
    ),
    "dry_run": ("--dry-run", _toggle("plan only, change nothing")),
    "resync": (
        "--resync",
        _toggle("ignore (and, if damaged, rebuild) the snapshot: a union that deletes nothing"),
    ),
    "transfers": (
        "--transfers",
        {
            "type": _at_least_one,
            "default": 8,
            "metavar": "N",
            "help": "how many transfers run at once (default 8)",
        },
    ),
    "dir_markers": (
        "--dir-markers",
        _toggle(
            "keep a 'folder/' marker object for every folder, and sync empty folders (TigrisFS "
            "mounts such as bm cloud mount show only folders that have one)"
        ),
    ),
    "delete_excluded": (
        "--delete-excluded",
        _toggle("also delete remote files the ignore rules exclude"),
    ),
}
"""The arguments of the run options (`bmsync.options.RunOptions`), each written once; the dest of
each is the option's name, which is how `bmsync.cli.handlers.run_options` reads them."""


def _run_options(parser: argparse.ArgumentParser, *names: str, **helps: str) -> None:
    """Add the run options `names` to `parser`, each with its own help unless `helps` words it
    for this command."""
    for name in names:
        flag, settings = RUN_OPTIONS[name]
        parser.add_argument(
            flag, dest=name, **(settings | {"help": helps.get(name, settings["help"])})
        )


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
    _run_options(sync, "profile", "conflict", "max_delete", "force", "dry_run", "resync")
    _ignore_file(sync)
    _run_options(sync, "transfers", "dir_markers")

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
    _run_options(check, "transfers", transfers="how many comparisons run at once (default 8)")

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
        _run_options(one_way, "dry_run")
        _ignore_file(one_way)
        _run_options(one_way, "transfers", *(["dir_markers"] if name == "push" else []))

    mirror = commands.add_parser(
        "mirror",
        parents=[common],
        help="make the remote identical to the folder (deletes into the remote trash)",
    )
    _pair(mirror)
    _run_options(
        mirror, "delete_excluded", "max_delete", "force", "dry_run",
        max_delete="delete limit (default 25)",
    )  # fmt: skip
    _ignore_file(mirror)
    _run_options(mirror, "transfers", "dir_markers")

    prune = commands.add_parser(
        "prune",
        parents=[common],
        help="list the remote files the ignore rules exclude; with --yes delete them",
    )
    _pair(prune, "the local project folder (its ignore rules apply)")
    prune.add_argument("--yes", action="store_true", help="delete them (into the remote trash)")
    _run_options(
        prune, "max_delete", "force", max_delete="delete limit (default 25)",
        force="lift the delete limit (max-delete; an empty folder or remote facing a full one)",
    )  # fmt: skip
    _ignore_file(prune)
    _run_options(prune, "transfers", transfers="how many deletes run at once (default 8)")

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
    _run_options(
        every, "profile", "conflict", "max_delete", "force", "dry_run", "transfers", "dir_markers",
        max_delete="per-side delete limit, per project: a count or a share of the files",
        transfers="how many transfers of each project run at once (default 8)",
    )  # fmt: skip
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
    _run_options(
        watch, "profile", "conflict", "max_delete",
        max_delete="per-side delete limit of each run: a count or a share of the files",
    )  # fmt: skip
    _ignore_file(watch)
    _run_options(watch, "transfers")

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


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"--header must look like 'Name: value', not {value!r}")
        headers[name.strip()] = content.strip()
    return headers
