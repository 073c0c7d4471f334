"""The one-way modes of the planner (push, pull, mirror, prune) as rows and as properties.

Each mode is a table in `bmsync.engine.plan.DECISIONS`; these tests pin its rows and check, over
random worlds, the promises each mode makes: push and pull never delete and never write to the
source, a destination changed since the last sync is never overwritten unless the user chose to,
`fail` transfers nothing that conflicts, a mirror leaves the remote identical to the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.engine.actions import (
    Action,
    DeleteLocal,
    DeleteRemote,
    Download,
    DownloadCopy,
    Forget,
    Record,
    ResolveConflict,
    Settle,
    Upload,
    UploadCopy,
)
from bmsync.engine.plan import (
    _REACHABLE,
    DECISIONS,
    ONE_WAY,
    Plan,
    Verdict,
    paths_to_compare,
    plan_sync,
    settled_paths,
)
from bmsync.options import Mode, OneWayConflict, TwoWayConflict
from bmsync.types import (
    Change,
    Comparison,
    LocalFile,
    RemoteMeta,
    RemoteObject,
    Settlement,
    Side,
    SnapshotEntry,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PATHS = ["a.md", "b.md", "d/c.md"]
CONTENTS = ["x", "y", "zz"]
ONE_WAY_MODES = (Mode.PUSH, Mode.PULL)

Versions = dict[str, str]  # path -> content


@dataclass
class World:
    local: Versions
    remote: Versions
    snapshot: Versions


@st.composite
def worlds(draw: st.DrawFn) -> World:
    def side() -> Versions:
        chosen = draw(st.sets(st.sampled_from(PATHS)))
        return {p: draw(st.sampled_from(CONTENTS)) for p in sorted(chosen)}

    return World(side(), side(), side())


def plan_for(
    world: World,
    mode: Mode,
    one_way: OneWayConflict = OneWayConflict.FAIL,
    excluded: dict[str, str] | None = None,
    settlements: tuple[Settlement, ...] = (),
) -> Plan:
    local = {p: LocalFile(p, len(c), 1, f"h-{c}") for p, c in world.local.items()}
    remote = {p: RemoteObject(p, len(c), f"e-{c}", 1) for p, c in world.remote.items()}
    settled = settled_paths(local, remote, settlements, mode=mode, one_way=one_way)
    snapshot = {
        p: SnapshotEntry(p, len(c), 1, f"h-{c}", f"e-{c}") for p, c in world.snapshot.items()
    }
    comparisons = {
        p: Comparison(
            world.local[p] == world.remote[p],
            RemoteMeta(f"e-{world.remote[p]}", len(world.remote[p]), 0, 2, None),
        )
        for p in paths_to_compare(local, remote, snapshot, settled=settled)
    }
    gone = {p: RemoteObject(p, len(c), f"e-{c}", 1) for p, c in (excluded or {}).items()}
    return plan_sync(
        local, remote, snapshot, comparisons, strategy=TwoWayConflict.NEWER, now=NOW,
        mode=mode, one_way=one_way, excluded=gone, settled=settled,
    )  # fmt: skip


def settlements_of(plan: Plan) -> tuple[Settlement, ...]:
    """What the executor records for each copy a keep-both put beside the destination's."""
    found: list[Settlement] = []
    for action in plan.actions:
        if isinstance(action, UploadCopy):
            content = action.local.xxh3.removeprefix("h-")
            found.append(
                Settlement(action.path, Side.REMOTE, action.local.xxh3, action.copy, f"e-{content}")
            )
        elif isinstance(action, DownloadCopy):
            content = action.remote.etag.removeprefix("e-")
            found.append(
                Settlement(action.path, Side.LOCAL, action.remote.etag, action.copy, f"h-{content}")
            )
    return tuple(found)


def apply(world: World, plan: Plan) -> World:
    """Both sides and the snapshot after the executor carried out `plan`."""
    local, remote, snapshot = dict(world.local), dict(world.remote), dict(world.snapshot)
    for action in plan.actions:
        match action:
            case Upload():
                remote[action.path] = snapshot[action.path] = local[action.path]
            case Download():
                local[action.path] = snapshot[action.path] = remote[action.path]
            case DeleteRemote():
                remote.pop(action.path, None)
                snapshot.pop(action.path, None)
            case DeleteLocal():
                del local[action.path]
                snapshot.pop(action.path, None)
            case Record():
                snapshot[action.path] = local[action.path]
            case Forget():
                snapshot.pop(action.path, None)
            case UploadCopy():
                remote[action.copy] = local[action.path]
            case DownloadCopy():
                local[action.copy] = remote[action.path]
            case ResolveConflict():
                raise AssertionError("no bisync conflict in a one-way mode")
    return World(local, remote, snapshot)


def touches(action: Action) -> str:
    """Which side an action writes to: local, remote, or none (snapshot only)."""
    match action:
        case Upload() | UploadCopy() | DeleteRemote():
            return "remote"
        case Download() | DownloadCopy() | DeleteLocal():
            return "local"
        case _:
            return "none"


# -- the tables --------------------------------------------------------------------------------


def test_every_mode_decides_every_reachable_pair() -> None:
    for mode, table in DECISIONS.items():
        assert set(table) == set(_REACHABLE), mode


def test_pull_is_push_seen_from_the_other_side() -> None:
    send = {Verdict.UPLOAD: Verdict.DOWNLOAD}
    for (source, destination), verdict in ONE_WAY.items():
        assert DECISIONS[Mode.PUSH][source, destination] is verdict
        assert DECISIONS[Mode.PULL][destination, source] is send.get(verdict, verdict)


@pytest.mark.parametrize(
    ("pair", "verdict"),
    [
        ((Change.NEW, Change.ABSENT), Verdict.UPLOAD),  # new on the source
        ((Change.ABSENT, Change.NEW), Verdict.LEAVE),  # only on the destination
        ((Change.CHANGED, Change.UNCHANGED), Verdict.UPLOAD),
        ((Change.UNCHANGED, Change.CHANGED), Verdict.LEAVE),  # the destination's edit stays
        ((Change.UNCHANGED, Change.DELETED), Verdict.LEAVE),  # not brought back
        ((Change.DELETED, Change.UNCHANGED), Verdict.LEAVE),  # never deleted
        ((Change.CHANGED, Change.DELETED), Verdict.UPLOAD),  # an edit beats a delete
        ((Change.CHANGED, Change.CHANGED), Verdict.COMPARE),
    ],
)
def test_push_rows(pair: tuple[Change, Change], verdict: Verdict) -> None:
    assert DECISIONS[Mode.PUSH][pair] is verdict


@pytest.mark.parametrize(
    ("pair", "verdict"),
    [
        ((Change.ABSENT, Change.NEW), Verdict.DELETE_REMOTE),
        ((Change.UNCHANGED, Change.CHANGED), Verdict.UPLOAD),  # the folder wins
        ((Change.DELETED, Change.CHANGED), Verdict.DELETE_REMOTE),  # kept in the trash
        ((Change.NEW, Change.NEW), Verdict.COMPARE),
    ],
)
def test_mirror_rows(pair: tuple[Change, Change], verdict: Verdict) -> None:
    assert DECISIONS[Mode.MIRROR][pair] is verdict


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(worlds(), st.sampled_from(ONE_WAY_MODES), st.sampled_from(list(OneWayConflict)))
def test_push_and_pull_never_delete_and_never_write_the_source(
    world: World, mode: Mode, one_way: OneWayConflict
) -> None:
    plan = plan_for(world, mode, one_way)
    destination = "remote" if mode is Mode.PUSH else "local"
    for action in plan.actions:
        assert not isinstance(action, DeleteLocal | DeleteRemote), action
        assert touches(action) in ("none", destination), action


@settings(max_examples=400, deadline=None)
@given(worlds(), st.sampled_from(ONE_WAY_MODES), st.sampled_from(list(OneWayConflict)))
def test_a_destination_changed_since_the_last_sync_is_overwritten_only_by_choice(
    world: World, mode: Mode, one_way: OneWayConflict
) -> None:
    after = apply(world, plan_for(world, mode, one_way))
    source, destination = (world.local, world.remote) if mode is Mode.PUSH else (
        world.remote, world.local,
    )  # fmt: skip
    dest_after = after.remote if mode is Mode.PUSH else after.local
    chose_source = OneWayConflict.KEEP_LOCAL if mode is Mode.PUSH else OneWayConflict.KEEP_REMOTE
    for path, content in destination.items():
        changed_there = world.snapshot.get(path) != content
        if changed_there and dest_after.get(path) != content:
            # Only a conflict (both sides changed) resolved for the source may replace it.
            assert one_way is chose_source and world.snapshot.get(path) != source.get(path)
        assert path in dest_after, "nothing on the destination is ever deleted"


@settings(max_examples=400, deadline=None)
@given(worlds(), st.sampled_from(ONE_WAY_MODES))
def test_fail_transfers_nothing_that_conflicts_and_lists_every_conflict(
    world: World, mode: Mode
) -> None:
    plan = plan_for(world, mode, OneWayConflict.FAIL)
    differing = {
        p
        for p in set(world.local) & set(world.remote)
        if world.local[p] != world.remote[p]
        and world.snapshot.get(p) not in (world.local[p], world.remote[p])
    }
    assert set(plan.unresolved) == set(plan.conflicts) == differing
    assert not {a.path for a in plan.actions} & differing


@settings(max_examples=400, deadline=None)
@given(worlds(), st.sampled_from(ONE_WAY_MODES))
def test_keep_both_keeps_both_versions_on_the_destination(world: World, mode: Mode) -> None:
    plan = plan_for(world, mode, OneWayConflict.KEEP_BOTH)
    after = apply(world, plan)
    copies = [a for a in plan.actions if isinstance(a, UploadCopy | DownloadCopy)]
    assert sorted(a.path for a in copies) == sorted(plan.conflicts)
    assert not plan.unresolved
    dest_before = world.remote if mode is Mode.PUSH else world.local
    dest_after = after.remote if mode is Mode.PUSH else after.local
    source = world.local if mode is Mode.PUSH else world.remote
    for copy in copies:
        assert copy.copy not in set(world.local) | set(world.remote) | set(world.snapshot)
        assert dest_after[copy.path] == dest_before[copy.path], "the destination's stays"
        assert dest_after[copy.copy] == source[copy.path], "the incoming one is beside it"
    assert len({c.copy for c in copies}) == len(copies)


@settings(max_examples=400, deadline=None)
@given(worlds(), st.sampled_from(ONE_WAY_MODES), st.data())
def test_keep_both_settles_a_conflict_for_good(
    world: World, mode: Mode, data: st.DataObject
) -> None:
    """Planning again after a keep-both run, with its settlements, finds nothing to do and
    compares nothing, even after the destination changed the path again; a new version on the
    source is a new conflict."""
    plan = plan_for(world, mode, OneWayConflict.KEEP_BOTH)
    settled = settlements_of(plan)
    after = apply(world, plan)
    again = plan_for(after, mode, OneWayConflict.KEEP_BOTH, settlements=settled)
    assert again.actions == () and again.conflicts == ()
    destination = after.remote if mode is Mode.PUSH else after.local
    source = after.local if mode is Mode.PUSH else after.remote
    for settlement in settled:
        edit = data.draw(st.sampled_from(["destination", "source", "none"]))
        side = destination if edit == "destination" else source if edit == "source" else {}
        side[settlement.path] = side.get(settlement.path, "") + "+"
    later = plan_for(after, mode, OneWayConflict.KEEP_BOTH, settlements=settled)
    changed_sources = {
        s.path
        for s in settled
        if source[s.path] != destination[s.path] and source[s.path][-1:] == "+"
    }
    copies = {a.path for a in later.actions if isinstance(a, UploadCopy | DownloadCopy)}
    assert copies == changed_sources


@pytest.mark.parametrize("mode", ONE_WAY_MODES)
def test_keep_both_records_the_copy_a_killed_run_made_instead_of_making_another(
    mode: Mode,
) -> None:
    local = {"a.md": LocalFile("a.md", 1, 1, "h-x")}
    remote = {"a.md": RemoteObject("a.md", 1, "e-y", 1)}
    copy = "a.conflict-20261130-115900.md"
    meta = RemoteMeta("e-y", 1, 0, 2, None)
    if mode is Mode.PUSH:
        remote[copy] = RemoteObject(copy, 1, "e-x", 1)
        comparison = Comparison(False, meta, same_as_local=(copy,))
        expected = Settlement("a.md", Side.REMOTE, "h-x", copy, "e-x")
    else:
        local[copy] = LocalFile(copy, 1, 1, "h-y")
        comparison = Comparison(False, meta, same_as_remote=(copy,))
        expected = Settlement("a.md", Side.LOCAL, "e-y", copy, "h-y")
    plan = plan_sync(
        local, remote, {}, {"a.md": comparison}, strategy=TwoWayConflict.NEWER, now=NOW,
        mode=mode, one_way=OneWayConflict.KEEP_BOTH,
    )  # fmt: skip
    assert [a for a in plan.actions if not isinstance(a, Upload | Download)] == [Settle(expected)]
    assert plan.conflicts == ()


@settings(max_examples=400, deadline=None)
@given(worlds(), st.sampled_from(ONE_WAY_MODES), st.sampled_from(list(OneWayConflict)))
def test_after_a_one_way_run_the_snapshot_only_records_agreement(
    world: World, mode: Mode, one_way: OneWayConflict
) -> None:
    """Wherever the snapshot is written, both sides hold that content: a later bisync of those
    paths sees no change."""
    plan = plan_for(world, mode, one_way)
    after = apply(world, plan)
    written = {a.path for a in plan.actions if isinstance(a, Upload | Download | Record)}
    for path in written:
        assert after.local[path] == after.remote[path] == after.snapshot[path]


@settings(max_examples=400, deadline=None)
@given(worlds())
def test_a_mirror_leaves_the_remote_identical_to_the_folder(world: World) -> None:
    after = apply(world, plan_for(world, Mode.MIRROR))
    assert after.remote == after.local == world.local
    assert after.snapshot == world.local


@settings(max_examples=200, deadline=None)
@given(worlds(), st.dictionaries(st.sampled_from(["x.tmp", "d/y.log"]), st.sampled_from(CONTENTS)))
def test_prune_deletes_exactly_the_excluded_objects(world: World, excluded: dict[str, str]) -> None:
    plan = plan_for(world, Mode.PRUNE, excluded=excluded)
    assert [(type(a), a.path) for a in plan.actions if not isinstance(a, Forget)] == [
        (DeleteRemote, p) for p in sorted(excluded)
    ]
