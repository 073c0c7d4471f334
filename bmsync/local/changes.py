"""Which of the paths a file watcher reported differ from what the last sync recorded.

A watcher sees every write in the folder, bmsync's own downloads, deletes and conflict renames
included. Syncing after each of those would find nothing to do, and a watch that did so would
follow every download with another run. So a reported path counts as a change only when the
next scan would call it one: a file the snapshot lacks, a file whose size or content hash is not
the snapshot's (the hash is reused while the stat has not moved, as the scan does), a snapshot
file that is gone, or any of these inside a reported folder. That never mistakes bmsync's own
writes for edits, and never misses an edit, whoever made it and whenever the event arrives.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from bmsync.local.ignore import IgnoreRules
from bmsync.local.scan import scan_path
from bmsync.names import canonical
from bmsync.types import SnapshotEntry


def changed_paths(
    root: Path,
    disk_relpaths: Iterable[str],
    snapshot: Mapping[str, SnapshotEntry],
    rules: IgnoreRules,
) -> list[str]:
    """The paths at or below the reported ones (relative to `root`, as on disk) that differ
    from `snapshot`; empty when every report was a write the snapshot already describes.
    Blocking: it stats, and hashes files whose stat moved."""
    known = sorted(snapshot)
    changed: set[str] = set()
    for disk_rel in set(disk_relpaths):
        path = canonical(disk_rel)
        scan = scan_path(root, disk_rel, rules, snapshot)
        if scan.problems:  # unreadable, a bad name, changed while read: the sync says why
            changed.update(problem.path for problem in scan.problems)
        for found in scan.files.values():
            entry = snapshot.get(found.path)
            if entry is None or (entry.size, entry.xxh3) != (found.size, found.xxh3):
                changed.add(found.path)
        for gone in _at_or_below(known, path):
            if gone not in scan.files and not rules.is_ignored(gone):
                changed.add(gone)
    return sorted(changed)


def _at_or_below(known: list[str], path: str) -> Iterator[str]:
    """`path` and the paths inside it, from the sorted `known` (`a b` sorts between `a` and
    `a/x`, so the folder's entries are found from `path + "/"`, not from `path`)."""
    at = bisect.bisect_left(known, path)
    if at < len(known) and known[at] == path:
        yield path
    inside = path + "/"
    at = bisect.bisect_left(known, inside)
    while at < len(known) and known[at].startswith(inside):
        yield known[at]
        at += 1
