"""Finish a conflict that a killed run began, instead of keeping its loser a second time.

When the local version wins, the executor first downloads the remote loser to
`x.conflict-<time>.md`, then copies it server-side to the same name, then uploads the winner.
A run killed between those steps leaves the copy behind while `x` is still in conflict, so the
next run would resolve it again under a new time stamp and keep the same loser twice (the scar
Dropbox users know as piles of "conflicted copy" files). This pass, pure like the planner, finds
such a copy and lets the conflict adopt it.

A copy is adopted only on proof: a name of this path's conflict-copy pattern, unknown to the
snapshot, whose bytes the edge proved equal to the remote loser's (`Comparison.same_as_remote`,
by the object's xxh3 metadata or by MD5 against a single-part ETag).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bmsync.sync.actions import Action, Record, ResolveConflict, Upload
from bmsync.sync.plan import Plan
from bmsync.types import Comparison, LocalFile, RemoteObject, Side, Snapshot


def adopt_kept_copies(
    plan: Plan,
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    comparisons: Mapping[str, Comparison],
) -> Plan:
    """`plan` with each adoptable copy adopted: its conflict skips the steps already done,
    and the copy's own `Upload` (local only) is dropped, since the conflict now puts it there."""
    if not any(comparison.same_as_remote for comparison in comparisons.values()):
        return plan  # the usual case: nothing to adopt, no index of every action
    return replace(plan, actions=tuple(_adopt(plan.actions, local, remote, snapshot, comparisons)))


def _adopt(
    actions: Sequence[Action],
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    comparisons: Mapping[str, Comparison],
) -> list[Action]:
    by_path = {action.path: action for action in actions}
    adopted: dict[str, ResolveConflict] = {}
    dropped: set[str] = set()
    for action in actions:
        if not isinstance(action, ResolveConflict) or action.kept_at_path is not Side.LOCAL:
            continue
        for name in comparisons[action.path].same_as_remote:
            found = local.get(name)
            if found is None or name in snapshot or name in dropped:
                continue
            planned = by_path.get(name)
            if isinstance(planned, Upload) and name not in remote:
                dropped.add(name)
                adopted[action.path] = replace(action, loser_copy=name, kept_copy=found)
                break
            if isinstance(planned, Record):
                dropped.add(name)  # the Record stays: it writes the copy's snapshot row
                adopted[action.path] = replace(
                    action, loser_copy=name, kept_copy=found, copy_on_remote=True
                )
                break
    if not adopted:
        return list(actions)
    result: list[Action] = []
    for action in actions:
        if action.path in adopted:
            result.append(adopted[action.path])
        elif not (isinstance(action, Upload) and action.path in dropped):
            result.append(action)
    return result
