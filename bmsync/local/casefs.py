"""Letter case: macOS and Windows folders usually hold `Note.md` and `note.md` as one file.

S3 keys are case-sensitive, so a bucket can hold both; writing the second would overwrite the
first on such a folder. The planner's inputs are restricted so that, on a case-insensitive
folder, only one path of each case-twin group is synced and the others are reported.
"""

from __future__ import annotations

import os
import secrets
from collections import defaultdict
from collections.abc import Iterable, Set
from pathlib import Path

from bmsync.names import TEMP_PREFIX


def is_case_insensitive(root: Path) -> bool:
    """Probe the folder itself: the answer depends on the file system, not the OS."""
    probe = root / f"{TEMP_PREFIX}case-{secrets.token_hex(4)}"
    probe.touch()
    try:
        return os.path.exists(root / probe.name.upper())
    finally:
        probe.unlink()


def case_twins(paths: Iterable[str]) -> list[list[str]]:
    """Groups of distinct paths that differ only by letter case (usually none)."""
    distinct = set(paths)
    if len({path.casefold() for path in distinct}) == len(distinct):
        return []  # the common case, without a group per path
    groups: dict[str, set[str]] = defaultdict(set)
    for path in distinct:
        groups[path.casefold()].add(path)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def unsyncable_twins(groups: list[list[str]], local: Set[str]) -> dict[str, str]:
    """Which twin paths to leave alone, with the reason: the one the folder holds wins, else
    the first in sorted order."""
    left_alone: dict[str, str] = {}
    for group in groups:
        keep = next((p for p in group if p in local), group[0])
        for path in group:
            if path != keep:
                left_alone[path] = (
                    f"differs from {keep} only by letter case, and this folder's file system "
                    "cannot hold both; rename one of them in the bucket"
                )
    return left_alone
