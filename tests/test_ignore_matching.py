"""`IgnoreRules` decides exactly as pathspec's GitIgnoreSpec, on its faster single-expression path.

Without a `!` pattern the rules are matched by one joined expression (`ignore.any_pattern`);
these properties hold it to pathspec's own answer for generated paths and pattern sets, and
check that a negation falls back to pathspec.
"""

from __future__ import annotations

import pathspec
from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.local.ignore import DEFAULT_PATTERNS, IgnoreRules

segment = st.sampled_from(
    ["a", "b.md", ".obsidian", "node_modules", "build", "x.db", "notes", "é", "sub dir", "c~",
     "__pycache__", "y.tmp", "dist", ".git", "venv", "deep", "k.pyc", "z.db-wal"]
)  # fmt: skip
paths = st.lists(segment, min_size=1, max_size=5).map("/".join)
glob = st.sampled_from(
    ["*.md", "notes/", "/a", "a/**/b.md", "**/deep", "sub dir/", "*.d[bc]", "?.md", "deep/*",
     "#comment", "", "b.md", "/notes/a", "**/", "x*", "\\#hash", "a/b.md/"]
)  # fmt: skip


def pathspec_says(patterns: tuple[str, ...], path: str) -> bool:
    return bool(pathspec.GitIgnoreSpec.from_lines(patterns).match_file(path))


@settings(max_examples=400, deadline=None)
@given(st.lists(glob, max_size=6), st.booleans(), paths)
def test_the_joined_expression_answers_as_pathspec(
    extra: list[str], defaults: bool, path: str
) -> None:
    patterns = (*DEFAULT_PATTERNS, *extra) if defaults else tuple(extra)
    rules = IgnoreRules(patterns)
    assert rules._any is not None  # type: ignore[attr-defined]
    assert rules._matches(path) == pathspec_says(patterns, path)
    assert rules._matches(path + "/") == pathspec_says(patterns, path + "/")


@settings(max_examples=100, deadline=None)
@given(st.lists(glob, max_size=4), paths)
def test_a_negation_leaves_matching_to_pathspec(extra: list[str], path: str) -> None:
    patterns = (*extra, "*.md", "!keep.md", "!notes/")
    rules = IgnoreRules(patterns)
    assert rules._any is None  # type: ignore[attr-defined]
    assert rules._matches(path) == pathspec_says(patterns, path)


def test_no_patterns_ignore_nothing_but_bmsyncs_own_files() -> None:
    rules = IgnoreRules(())
    assert not rules.is_ignored("a/b.md") and not rules.is_ignored_dir("a")
    assert rules.is_ignored("a/.bmsync-tmp-1234-b.md")
