"""The options a run takes are defined once (`bmsync.options.RunOptions`, `TAKES`): every public
function that runs a sync takes exactly those it is listed for, under the same names, types and
defaults, plus its own extras named here, so a signature and the definition cannot drift."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bmsync
from bmsync.cli.handlers import run_options
from bmsync.cli.parser import RUN_OPTIONS, build_parser
from bmsync.commands.run_pair import Pair
from bmsync.errors import ConfigError
from bmsync.options import TAKES, Mode, RunOptions, resolve_options
from bmsync.testing import MemoryRemote

WHERE = {f.name: f for f in dataclasses.fields(Pair) if f.name not in ("local_path", "remote_url")}
OPTIONS = {f.name: f for f in dataclasses.fields(RunOptions)}

# Each function: its command in `TAKES`, the `Pair` fields it takes, and its own extras.
FUNCTIONS: dict[str, tuple[str, set[str], set[str]]] = {
    "sync_project": ("sync", set(WHERE), {"progress", "now", "on_synced"}),
    "push_project": ("push", set(WHERE), {"conflict", "progress", "now", "on_synced"}),
    "pull_project": ("pull", set(WHERE), {"conflict", "progress", "now", "on_synced"}),
    "mirror_project": ("mirror", set(WHERE), {"progress", "now", "on_synced"}),
    "prune_project": ("prune", set(WHERE), {"yes", "progress", "now", "on_synced"}),
    "watch_project": (
        "watch",
        set(WHERE),
        {"interval", "debounce", "on_synced", "stop", "progress"},
    ),
    "sync_all": (
        "sync-all",
        {"s3", "state_dir", "ignore"},
        {"cloud", "config_file", "use_config", "projects_concurrency", "on_synced", "progress"},
    ),
    "watch_all": (
        "watch-all",
        {"s3", "state_dir", "ignore"},
        {
            "cloud",
            "config_file",
            "use_config",
            "interval",
            "debounce",
            "projects_concurrency",
            "on_synced",
            "stop",
            "progress",
        },
    ),
}


def keyword_parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(function).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_run_function_takes_the_defined_options(name: str) -> None:
    command, where, extras = FUNCTIONS[name]
    taken = keyword_parameters(getattr(bmsync, name))
    assert set(taken) == set(TAKES[command]) | where | extras | {"options"}
    assert str(taken["options"].annotation) == "RunOptions | None"
    for option, field in [*OPTIONS.items(), *WHERE.items()]:
        if option in taken and option not in extras:
            parameter = taken[option]
            assert str(parameter.annotation) == str(field.type), (name, option)
            assert parameter.default == field.default, (name, option)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_blocking_forms_take_the_same(name: str) -> None:
    blocking = getattr(bmsync, f"{name}_blocking", None)
    if blocking is not None:
        assert keyword_parameters(blocking) == keyword_parameters(getattr(bmsync, name))


def test_each_command_takes_only_defined_options() -> None:
    assert all(set(names) <= set(OPTIONS) for names in TAKES.values())


def test_run_options_resolve_as_resolve_options_does() -> None:
    given = RunOptions(profile="safe", max_delete="10%", dry_run=True, transfers=3)
    assert given.resolve(Mode.MIRROR) == resolve_options(
        profile="safe", max_delete="10%", dry_run=True, transfers=3, mode=Mode.MIRROR
    )


def test_options_are_picked_by_what_a_command_takes() -> None:
    given = RunOptions.given("pull", {"dry_run": True, "profile": "fast", "other": 1})
    assert given == RunOptions(dry_run=True)
    assert given.keywords("pull") == {"dry_run": True, "transfers": 8}
    with pytest.raises(dataclasses.FrozenInstanceError):
        given.dry_run = False  # type: ignore[misc]


def test_options_are_given_whole_or_as_keywords_not_both() -> None:
    whole = RunOptions(dry_run=True, transfers=2)
    assert RunOptions.given("sync", {"options": whole, "dry_run": False}) is whole
    with pytest.raises(ConfigError, match="transfers"):
        RunOptions.given("sync", {"options": whole, "transfers": 4})
    with pytest.raises(ConfigError, match="RunOptions"):
        RunOptions.given("sync", {"options": {"dry_run": True}})


def test_a_run_takes_its_options_whole(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("a")
    remote = MemoryRemote()
    state = tmp_path / "state"
    dry = bmsync.sync_project_blocking(
        tmp_path / "notes", "s3://b/p", state_dir=state, remote=remote,
        options=bmsync.RunOptions(dry_run=True, profile="safe"),
    )  # fmt: skip
    assert dry.dry_run and dry.uploaded == ["a.md"] and not remote.objects
    pushed = bmsync.push_project_blocking(
        tmp_path / "notes", "s3://b/p", state_dir=state, remote=remote,
        options=bmsync.RunOptions(transfers=1),
    )  # fmt: skip
    assert pushed.uploaded == ["a.md"]
    with pytest.raises(ConfigError, match="dry_run"):
        bmsync.sync_project_blocking(
            tmp_path / "notes", "s3://b/p", remote=remote, dry_run=True,
            options=bmsync.RunOptions(),
        )  # fmt: skip


def test_watch_takes_typed_options_not_arbitrary_keywords() -> None:
    for name in ("watch_project", "watch_all"):
        kinds = {p.kind for p in inspect.signature(getattr(bmsync, name)).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds


def subcommand(name: str) -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = commands.choices[name]
    return parser


@pytest.mark.parametrize(
    "command", ["sync", "push", "pull", "mirror", "prune", "watch", "sync-all"]
)
def test_every_run_option_the_command_line_offers_reaches_the_run(command: str) -> None:
    """The CLI reads options by `TAKES`: one it parsed but the command does not take would be
    dropped without a word."""
    offered = {a.dest for a in subcommand(command)._actions} & set(OPTIONS)
    if command in ("push", "pull"):
        offered.discard("conflict")  # their own: fail, keep-local, ...
    assert offered <= set(TAKES[command])


def test_the_command_line_builds_the_options_once() -> None:
    args = build_parser().parse_args(
        ["sync", "here", "s3://b/p", "--profile", "safe", "--max-delete", "5", "--dry-run",
         "--transfers", "3", "--dir-markers"]
    )  # fmt: skip
    assert run_options(args, "sync") == RunOptions(
        profile="safe", max_delete="5", dry_run=True, transfers=3, dir_markers=True
    )
    mirror = build_parser().parse_args(["mirror", "here", "s3://b/p", "--delete-excluded"])
    assert run_options(mirror, "mirror") == RunOptions(delete_excluded=True)


def test_the_parser_defines_each_run_option_once_under_its_name() -> None:
    assert set(RUN_OPTIONS) <= set(OPTIONS)
    for command in ("sync", "mirror", "sync-all"):
        flags = {a.dest: a.option_strings for a in subcommand(command)._actions}
        for name in set(flags) & set(RUN_OPTIONS):
            assert flags[name] == [RUN_OPTIONS[name][0]]
