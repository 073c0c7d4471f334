"""Letter case: macOS and Windows folders usually hold `Note.md` and `note.md` as one file.

S3 keys are case-sensitive, so a bucket can hold both; writing the second would overwrite the
first on such a folder. The planner's inputs are restricted so that, on a case-insensitive
folder, only one path of each case-twin group is synced and the others are reported.

A folder has one spelling on such a file system, whatever case the bucket spells it in (a
Linux client may rename `Notes/` to `notes/` in the bucket; a Mac user may rename the folder
on disk): a local file is matched to the key that differs from it in its folders' case alone
(`folders_as_listed`), and keeps its name on disk. So a folder renamed by case on either side
neither moves nor doubles anything.

One kind of group is no pair of twins but a rename: a file renamed on one side by letter case
alone (`Note.md` → `note.md`). The folder then holds one spelling and the bucket the other,
and the snapshot knows the old one only. Both paths go to the planner, which sees a delete and
a new file of the same bytes and makes them a move (`engine/moves.py`); leaving the new name
alone instead would keep the old key in the bucket for ever (a local rename) or delete the
local file into the trash and download it again (a remote one).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Set
from pathlib import Path

from bmsync.local import temps


def is_case_insensitive(root: Path) -> bool:
    """Probe the folder itself: the answer depends on the file system, not the OS."""
    probe = root / temps.new_temp_name("case-probe")
    temps.claim(probe)  # another run's scan in this process must not take it for a leftover
    try:
        probe.touch()
        return os.path.exists(root / probe.name.upper())
    finally:
        probe.unlink(missing_ok=True)
        temps.release(probe)


def case_twins(paths: Iterable[str]) -> list[list[str]]:
    """Groups of distinct paths that differ only by letter case (usually none)."""
    distinct = set(paths)
    if len({path.casefold() for path in distinct}) == len(distinct):
        return []  # the common case, without a group per path
    groups: dict[str, set[str]] = defaultdict(set)
    for path in distinct:
        groups[path.casefold()].add(path)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def folders_as_listed(groups: list[list[str]], local: Set[str], remote: Set[str]) -> dict[str, str]:
    """The local paths to match as the bucket spells their folders: for each twin group whose
    one local path is no key, and whose keys spell its folders in one other case, local path →
    those folders with the local file's own name (which may still differ by case from the
    key's: `is_case_rename`). A key with the file's own name is preferred, so a file is matched
    to its key rather than to a twin of it."""
    spelled: dict[str, str] = {}
    for group in groups:
        here = [p for p in group if p in local]
        if len(here) != 1 or here[0] in remote:
            continue
        (mine,) = here
        folder, _, name = mine.rpartition("/")
        others = [
            (key_folder, key_name)
            for key_folder, _, key_name in (p.rpartition("/") for p in group if p in remote)
            if key_folder != folder and key_folder.casefold() == folder.casefold()
        ]
        same_name = [(f, n) for f, n in others if n == name]
        spellings = {f for f, _ in same_name or others}
        if len(spellings) == 1:
            matched = f"{spellings.pop()}/{name}"
            if matched not in local:
                spelled[mine] = matched
    return spelled


def is_case_rename(group: list[str], local: Set[str], remote: Set[str], known: Set[str]) -> bool:
    """Whether a twin group is one file renamed by letter case on one side: the folder holds
    one spelling, the bucket another, and the snapshot (`known`) exactly one of the two.

    Only a rename of the file's own name: a folder renamed by case alone (`Notes/` → `notes/`)
    keeps its spelling in a case-insensitive folder, and is matched (`folders_as_listed`)
    before this is asked.
    """
    here = [p for p in group if p in local]
    there = [p for p in group if p in remote]
    if len(here) != 1 or len(there) != 1 or here == there:
        return False
    (old_or_new,), (new_or_old,) = here, there
    same_folder = old_or_new.rpartition("/")[0] == new_or_old.rpartition("/")[0]
    return same_folder and (old_or_new in known) != (new_or_old in known)


def unsyncable_twins(
    groups: list[list[str]],
    local: Set[str],
    remote: Set[str] = frozenset(),
    known: Set[str] = frozenset(),
) -> dict[str, str]:
    """Which twin paths to leave alone, with the reason: the one the folder holds wins, else
    the first in sorted order. A case-only rename (`is_case_rename`; `remote` and `known`, the
    snapshot's paths, tell) leaves none alone."""
    left_alone: dict[str, str] = {}
    for group in groups:
        if is_case_rename(group, local, remote, known):
            continue
        keep = next((p for p in group if p in local), group[0])
        for path in group:
            if path != keep:
                left_alone[path] = (
                    f"differs from {keep} only by letter case, and this folder's file system "
                    "cannot hold both; rename one of them in the bucket"
                )
    return left_alone
