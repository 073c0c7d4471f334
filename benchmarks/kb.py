"""A synthetic knowledge base and the edits the scenarios apply to it.

Everything is derived from a seed so both tools (and every run) see byte-identical notes, the
same folder tree and the same modification times. The notes get fixed mtimes in the past so a
later `touch` changes the mtime by far more than any store's precision.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

FOLDERS = 20
"""Top-level folders; every fourth one has sub-folders, so some notes are two levels deep."""
SUBFOLDERS = 3
MIN_BYTES, MAX_BYTES = 1024, 8 * 1024
BASE_MTIME_S = 1_704_067_200  # 2024-01-01T00:00:00Z
WORDS = (
    "sync", "note", "memory", "graph", "entity", "relation", "observation", "project", "folder",
    "bucket", "prefix", "snapshot", "listing", "upload", "download", "conflict", "markdown",
    "heading", "link", "tag", "context", "search", "index", "vector", "summary", "draft", "idea",
    "meeting", "research", "paper", "reference", "quote", "task",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Edits:
    """The paths each scenario touches; disjoint, so no edit is a conflict for either tool."""

    local_edits: tuple[str, ...]
    remote_edits: tuple[str, ...]
    local_deletes: tuple[str, ...]
    touches: tuple[str, ...]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def folder_names() -> list[str]:
    """20 top-level folders, every fourth with 3 sub-folders: 35 places to put notes."""
    names: list[str] = []
    for i in range(FOLDERS):
        top = f"area-{i:02d}"
        names.append(top)
        if i % 4 == 0:
            names.extend(f"{top}/topic-{j}" for j in range(SUBFOLDERS))
    return names


def note_text(rng: random.Random, title: str) -> bytes:
    """A Markdown note of 1–8 KiB: front matter, a heading, paragraphs of filler words."""
    target = rng.randint(MIN_BYTES, MAX_BYTES)
    head = f"---\ntitle: {title}\ntags: [bench, {rng.choice(WORDS)}]\n---\n\n# {title}\n\n"
    parts = [head]
    size = len(head)
    while size < target:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))) + ".\n"
        parts.append(line)
        size += len(line)
    return "".join(parts).encode("utf-8")[:target]


def generate(root: Path, count: int, seed: int) -> dict[str, bytes]:
    """Write `count` notes below `root`; returns {relative path: content}."""
    rng = random.Random(seed)
    folders = folder_names()
    notes: dict[str, bytes] = {}
    for i in range(count):
        relpath = f"{folders[i % len(folders)]}/note-{i:05d}.md"
        notes[relpath] = note_text(rng, f"Note {i}")
    write_notes(root, notes)
    return notes


def write_notes(root: Path, notes: dict[str, bytes]) -> None:
    """Write the notes with deterministic mtimes (one second apart from 2024-01-01)."""
    for i, (relpath, content) in enumerate(sorted(notes.items())):
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        mtime = BASE_MTIME_S + i
        os.utime(path, (mtime, mtime))


def edits_per_side(count: int) -> int:
    """1 % of the notes edited on each side (the issue's "1% edited on each side"), at least 10."""
    return max(10, count // 100)


def choose_edits(paths: list[str], seed: int) -> Edits:
    """1 % local edits, 1 % remote edits, 5 local deletes and 100 touches, all different
    paths."""
    rng = random.Random(seed + 1)
    e = edits_per_side(len(paths))
    picked = rng.sample(sorted(paths), 2 * e + 105)
    return Edits(
        local_edits=tuple(picked[:e]),
        remote_edits=tuple(picked[e : 2 * e]),
        local_deletes=tuple(picked[2 * e : 2 * e + 5]),
        touches=tuple(picked[2 * e + 5 :]),
    )


def edited(content: bytes, side: str) -> bytes:
    """The new content of an edited note: longer, so size alone shows the change."""
    return content + f"\n## Edited {side}\n\nA line added by the benchmark.\n".encode()
