"""Visibility: one rule decides which paths the sync sees, on both sides, as git decides it.

The scan of a real folder (which prunes the folders it does not walk into) must see exactly the
paths that `IgnoreRules.is_ignored` lets through when the gather step filters listed keys and
snapshot rows, or a path seen on one side only looks deleted on the other and its copy is
deleted (issue 16). Both are held to git itself (`git ls-files --others`), for random trees and
random rule sets with negations, folder-only rules and `**`.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bmsync import sync_project
from bmsync.local.gitignore import Matcher
from bmsync.local.ignore import DEFAULT_PATTERNS, IgnoreRules
from bmsync.local.scan import scan_local
from bmsync.local.temps import new_temp_name
from bmsync.testing import MemoryRemote

GIT = shutil.which("git")
"""The reference these tests hold the rules to: CI runs in a git checkout, so git is there."""

segment = st.sampled_from(
    ["a", "b.md", "notes", "drafts", "keep.md", "x.txt", "deep", "é.md", "sub dir", "c~",
     "node_modules", ".obsidian", "build", "k.pyc", "y.db", "[x]", "a.b"]
)  # fmt: skip
glob = st.sampled_from(
    ["*", "*.md", "*.txt", "notes", "drafts", "/a", "a/**/b.md", "**/deep", "deep/**", "**",
     "drafts/keep.md", "keep.md", "?.md", "[a-c]", "[!a]*", "sub dir", "**/notes/*.md", "d*",
     "*~", "\\[x]", "a.b", "#comment", "", "notes/**/", "**/x.txt", "/*.md"]
)  # fmt: skip
pattern = st.builds(
    lambda negate, body, folder: ("!" if negate and body else "") + body + ("/" if folder else ""),
    st.booleans(),
    glob,
    st.booleans(),
)
ISSUE_IDIOMS = [("drafts/", "!drafts/keep.md"), ("*", "!*/", "!*.md"), ("*", "!*.md")]
"""Rules that deleted files nobody deleted (issue 16)."""
tree_paths = st.lists(
    st.lists(segment, min_size=1, max_size=4).map("/".join), min_size=1, max_size=14
)


def plant(root: Path, paths: list[str]) -> list[str]:
    """Create a file at each path (skipping one that would need a file to be a folder)."""
    planted: list[str] = []
    for path in paths:
        if any(p == path or p.startswith(path + "/") or path.startswith(p + "/") for p in planted):
            continue
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(path)
        planted.append(path)
    return planted


@functools.cache
def git_dir() -> Path:
    """One empty repository for every comparison; the work tree is named on each command."""
    assert GIT is not None, "git is the reference for visibility; install it"
    path = Path(tempfile.mkdtemp(prefix="bmsync-git-"), "repo")
    subprocess.run([GIT, "init", "-q", "--bare", str(path)], check=True)
    return path


def git_sees(root: Path, patterns: tuple[str, ...]) -> set[str]:
    """The files git lists as untracked and not ignored under `patterns` (no repository in
    `root` itself, so the scan sees no `.git`). Only ASCII names: git's `?` and `[...]` match
    one byte of a UTF-8 name where bmsync matches one character."""
    assert GIT is not None
    with tempfile.TemporaryDirectory() as aside:
        rules = Path(aside, "rules")
        rules.write_text("".join(f"{p}\n" for p in patterns), encoding="utf-8")
        listed = subprocess.run(
            [GIT, f"--git-dir={git_dir()}", f"--work-tree={root}", "-c", "core.excludesFile=",
             "-c", "core.quotePath=false", "ls-files", "-z", "--others",
             f"--exclude-from={rules}"],
            capture_output=True, check=True, text=True, encoding="utf-8",
        ).stdout  # fmt: skip
    return {path for path in listed.split("\0") if path and path.isascii()}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree_paths, st.lists(pattern, max_size=6), st.booleans())
def test_the_scan_and_the_key_filter_see_the_same_paths_as_git(
    paths: list[str], extra: list[str], defaults: bool
) -> None:
    patterns = (*DEFAULT_PATTERNS, *extra) if defaults else tuple(extra)
    rules = IgnoreRules(patterns)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        planted = plant(root, paths)
        scanned = set(scan_local(root, rules, {}).files)
        filtered = {path for path in planted if not rules.is_ignored(path)}
        assert scanned == filtered, "the scan and the key filter disagree"
        assert {path for path in filtered if path.isascii()} == git_sees(root, patterns)


def visible(patterns: tuple[str, ...], paths: list[str]) -> list[str]:
    rules = IgnoreRules(patterns)
    return [path for path in paths if not rules.is_ignored(path)]


def test_a_negation_cannot_bring_a_file_out_of_an_excluded_folder() -> None:
    paths = ["drafts/keep.md", "drafts/x.md", "a.md"]
    assert visible(("drafts/", "!drafts/keep.md"), paths) == ["a.md"]
    assert visible(("drafts/*", "!drafts/keep.md"), paths) == ["drafts/keep.md", "a.md"]


def test_markdown_only_idioms() -> None:
    paths = ["top.md", "top.txt", "notes/a.md", "notes/b.txt", "notes/sub/c.md"]
    assert visible(("*", "!*/", "!*.md"), paths) == ["top.md", "notes/a.md", "notes/sub/c.md"]
    # Without `!*/` the folders stay excluded, as in git: only top-level notes are seen.
    assert visible(("*", "!*.md"), paths) == ["top.md"]


def test_no_patterns_ignore_nothing_but_bmsyncs_own_files() -> None:
    rules = IgnoreRules(())
    assert not rules.is_ignored("a/b.md") and not rules.is_ignored_dir("a")
    assert rules.is_ignored(f"a/{new_temp_name('b.md')}")
    assert not rules.is_ignored("a/.bmsync-tmp-mine.md"), "only bmsync's exact form"


def test_rules_without_a_negation_are_one_joined_expression() -> None:
    """The 20,000-file scan pays one search per entry for basic-memory's 35 defaults."""
    assert len(Matcher(DEFAULT_PATTERNS)._runs) == 1
    assert len(Matcher((*DEFAULT_PATTERNS, "*", "!*/", "!*.md"))._runs) == 2


def test_a_folder_answer_is_computed_once() -> None:
    rules = IgnoreRules(("drafts/",))
    assert rules.is_ignored("drafts/a/b.md") and rules.is_ignored_dir("drafts/a")
    assert rules._folders == {"drafts": True, "drafts/a": True}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "line", ["[unclosed", "a\\", "[[:nope:]]", "[z-a]", "**/**", "a/**/**/b", "[]]", "\\ "]
)
def test_odd_patterns_compile(line: str) -> None:
    rules = IgnoreRules((line,))
    rules.is_ignored("a/b")
    rules.is_ignored_dir("]")


def test_odd_patterns_match_as_git_does(tmp_path: Path) -> None:
    names = ["]", "z", "a", "b", "[unclosed", " ", "x ", "x", "-", "A", "5", ":", "["]
    planted = plant(tmp_path, [f"{d}/{n}" for d in ("d", "e") for n in names])
    odd = ["[unclosed", "[]]", "[z-a]", "[[:upper:]]", "[[:digit:]-]", "x\\ ", "x  ", "[!a-z]",
           "[^]]", "e/[a-b]", "**/**", "\\!x", "[[:x]", "[[:]", "[a-c-z]"]  # fmt: skip
    for line in odd:
        rules = IgnoreRules((line,))
        assert {p for p in planted if not rules.is_ignored(p)} == git_sees(tmp_path, (line,)), line


@settings(max_examples=30, deadline=None)
@given(
    tree_paths,
    tree_paths,
    st.lists(pattern, max_size=4),
    st.sampled_from([(), *ISSUE_IDIOMS]),
)
def test_rules_arriving_between_runs_never_delete_a_file(
    local_paths: list[str], remote_paths: list[str], extra: list[str], idiom: tuple[str, ...]
) -> None:
    """Synced without rules, then run twice under random rules (with one of the issue's idioms
    after them, or none): every file is still on both sides with its content, whatever the
    rules hide (nobody deleted anything)."""
    rules = [*extra, *idiom]

    defaults = IgnoreRules(DEFAULT_PATTERNS)  # what the first run, without rules, hides

    async def runs(root: Path, state: Path) -> dict[str, str]:
        remote = MemoryRemote()
        kept = ["drafts/keep.md", "notes/sub dir/a.md", *local_paths]  # the issue's shapes
        plant(root, [path for path in kept if not defaults.is_ignored(path)])
        for path in filter(lambda path: not defaults.is_ignored(path), remote_paths):
            if not any(path == p or path.startswith(p + "/") or p.startswith(path + "/")
                       for p in [*kept, *remote.objects]):  # fmt: skip
                remote.put_bytes(path, f"remote {path}".encode())
        await sync_project(root, "s3://memory/p", state_dir=state, remote=remote)
        synced = {k: v.decode() for k, v in remote.contents().items()}
        assert synced == files_in(root)
        for _ in range(2):
            await sync_project(root, "s3://memory/p", state_dir=state, remote=remote, ignore=rules)
            assert {k: v.decode() for k, v in remote.contents().items()} == synced
            assert files_in(root) == synced
        return synced

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(runs(Path(folder, "notes"), Path(folder, "state")))


def files_in(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


@settings(max_examples=200, deadline=None)
@given(tree_paths, st.lists(pattern, max_size=6), st.data())
def test_showing_makes_exactly_the_kept_files_visible(
    paths: list[str], extra: list[str], data: st.DataObject
) -> None:
    """basic-memory's prune keeps the files the user did not confirm by adding these lines:
    they must show those files, even inside excluded folders, and hide or show nothing else."""
    rules = IgnoreRules(tuple(extra))
    files = sorted(set(paths))
    files = [f for f in files if not any(g.startswith(f + "/") for g in files)]
    keep = data.draw(st.lists(st.sampled_from(files), unique=True))
    shown = IgnoreRules((*extra, *rules.showing(keep)))
    before = {f for f in files if not rules.is_ignored(f)}
    assert {f for f in files if not shown.is_ignored(f)} == before | set(keep)
