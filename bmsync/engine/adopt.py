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

The same goes for the copy a `push --conflict keep-both` put beside the remote version: when a
two-way sync then keeps the remote version at the path, the local loser is that copy's version,
so the local file is renamed to the copy's name rather than kept a second time. The proof there
is the push's `Settlement`: the local file is still the version it sent, and the object at the
copy's name still has the ETag that upload got.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from bmsync.engine.actions import Action, Download, Record, ResolveConflict, Upload
from bmsync.engine.plan import Plan
from bmsync.types import Comparison, LocalFile, RemoteObject, Settlement, Side, Snapshot


def adopt_kept_copies(
    plan: Plan,
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    comparisons: Mapping[str, Comparison],
    settlements: Iterable[Settlement] = (),
) -> Plan:
    """`plan` with each adoptable copy adopted: its conflict skips the steps already done,
    and the copy's own `Upload` (local only) or `Download` (remote only) is dropped, since the
    conflict now puts it there."""
    pushed = {s.path: s for s in settlements if s.side is Side.REMOTE}
    if pushed and any(isinstance(a, ResolveConflict) for a in plan.actions):
        plan = replace(
            plan, actions=tuple(_adopt_pushed(plan.actions, local, remote, snapshot, pushed))
        )
    if not any(comparison.same_as_remote for comparison in comparisons.values()):
        return plan  # the usual case: nothing to adopt, no index of every action
    return replace(plan, actions=tuple(_adopt(plan.actions, local, remote, snapshot, comparisons)))


def _adopt_pushed(
    actions: Sequence[Action],
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    pushed: Mapping[str, Settlement],
) -> list[Action]:
    """Conflicts whose local loser a push's keep-both already put at its copy remotely."""
    by_path = {action.path: action for action in actions}
    adopted: dict[str, ResolveConflict] = {}
    for action in actions:
        if not isinstance(action, ResolveConflict) or action.kept_at_path is not Side.REMOTE:
            continue
        settlement = pushed.get(action.path)
        if settlement is None or settlement.version != action.local.xxh3:
            continue
        name = settlement.copy
        copy = remote.get(name)
        if copy is None or copy.etag != settlement.copy_version:
            continue
        if name in local or name in snapshot or not isinstance(by_path.get(name), Download):
            continue
        adopted[action.path] = replace(action, loser_copy=name, remote_copy=copy)
    if not adopted:
        return list(actions)
    dropped = {a.loser_copy for a in adopted.values()}
    return [
        adopted.get(action.path, action)
        for action in actions
        if not (isinstance(action, Download) and action.path in dropped)
    ]


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
