"""The command handlers: each subcommand's arguments onto its library call, the result onto an
`Outcome` for the runner. Each imports what it runs only when it runs, so `bmsync --help` and
`bmsync --version` load neither the S3 client nor the snapshot store.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import TYPE_CHECKING, Any

from bmsync.cli.parser import parse_headers
from bmsync.cli.runner import Command, Ending, Outcome, report_outcome

if TYPE_CHECKING:
    from bmsync.cli.terminal import Terminal
    from bmsync.commands.which_projects import CloudSource
    from bmsync.options import RunOptions
    from bmsync.remotes import S3Config


def _s3_config(args: argparse.Namespace) -> S3Config:
    from bmsync.remotes import S3Config

    return S3Config(
        endpoint_url=args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
        region=args.region,
        headers=parse_headers(args.header),
    )


def run_options(args: argparse.Namespace, command: str) -> RunOptions:
    """The run options `command` (a key of `bmsync.options.TAKES`) takes, read from its command
    line: each option's argument has the option's name as its dest, so this is the one place
    a command line becomes options."""
    from bmsync.options import RunOptions

    return RunOptions.given(command, vars(args))


def _pair_options(args: argparse.Namespace, terminal: Terminal) -> dict[str, Any]:
    """Where every command that syncs a (folder, remote) pair runs, from its command line."""
    return {
        "s3": _s3_config(args),
        "state_dir": args.state_dir,
        "ignore_files": args.ignore_file,
        "progress": terminal.progress(),
    }


async def _sync(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.run_pair import sync_project

    report = await sync_project(
        args.local,
        args.remote,
        options=run_options(args, "sync"),
        **_pair_options(args, terminal),
    )
    return report_outcome(report)


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
    ending: Ending = "ok" if report.in_sync else "partial"
    return Outcome(report.to_dict(), report.summary(), ending, result=report)


async def _status(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.status import project_status

    status = await project_status(args.local, args.remote, state_dir=args.state_dir, runs=args.runs)
    return Outcome(status.to_dict(), status.summary())


async def _trash(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.cli.terminal import trash_text
    from bmsync.commands.recover import list_trash

    versions = await list_trash(
        args.remote, side=args.side, s3=_s3_config(args), state_dir=args.state_dir
    )
    return Outcome({"versions": [v.to_dict() for v in versions]}, trash_text(versions))


async def _restore(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.cli.terminal import restore_text
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
    return Outcome(result.to_dict(), restore_text(result))


async def _push_or_pull(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands import transfer

    options = run_options(args, args.command)
    given = _pair_options(args, terminal)
    if args.command == "push":
        report = await transfer.push_project(
            args.local, args.remote, conflict=args.conflict, options=options, **given
        )
    else:
        report = await transfer.pull_project(
            args.local, args.remote, conflict=args.conflict, options=options, **given
        )
    return report_outcome(report)


async def _mirror(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.transfer import mirror_project

    report = await mirror_project(
        args.local,
        args.remote,
        options=run_options(args, "mirror"),
        **_pair_options(args, terminal),
    )
    return report_outcome(report)


async def _prune(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.transfer import prune_project

    report = await prune_project(
        args.local,
        args.remote,
        yes=args.yes,
        options=run_options(args, "prune"),
        **_pair_options(args, terminal),
    )
    outcome = report_outcome(report)
    if report.dry_run and report.deleted_remote and not report.guard:
        return dataclasses.replace(outcome, hint="run again with --yes to delete them")
    return outcome


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
        progress=terminal.named_progress(),
        options=run_options(args, "sync-all"),
    )
    return Outcome(result.to_dict(), result.summary(), result.status, result=result)


async def _watch(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.watch import watch_project

    await watch_project(
        args.local,
        args.remote,
        interval=args.interval,
        on_synced=terminal.show_run,
        options=run_options(args, "watch"),
        **_pair_options(args, terminal),
    )
    return Outcome({"status": "stopped"}, "watch stopped")


def _cloud_source(args: argparse.Namespace) -> CloudSource | None:
    if args.cloud is None:
        return None
    from bmsync.commands.which_projects import CloudSource

    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    return CloudSource(args.cloud or None, endpoint, args.region)


async def _watch_all(args: argparse.Namespace, terminal: Terminal) -> Outcome:
    from bmsync.commands.watch_all import watch_all

    await watch_all(
        args.root,
        args.remote,
        cloud=_cloud_source(args),
        config_file=args.config or None,
        use_config=args.config is not None,
        interval=args.interval,
        projects_concurrency=args.projects_concurrency,
        on_synced=lambda name, report: terminal.show_run(report, name),
        s3=_s3_config(args),
        state_dir=args.state_dir,
        progress=terminal.named_progress(),
        # --force and --dry-run go too: refused with a reason, rather than silently dropped
        options=run_options(args, "watch-all"),
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
    return Outcome(story.to_dict(), story.summary(), "ok" if story.ok else "partial")


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
