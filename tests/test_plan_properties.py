"""Hypothesis properties of the pure planner over random three-tree states.

A state is three small maps path -> content (local, remote, snapshot). The plan is applied to a
model of both sides; the properties are the invariants of docs/semantics.md:

- a first run or resync never deletes;
- applying the plan makes both sides equal;
- planning again after applying finds nothing to do;
- no version the snapshot does not know (a new or edited one) is ever lost;
- only a version equal to the snapshot's may disappear (deleted or overwritten);
- conflict copies stay beside their file, take the first free number, and are recognised when a
  conflict is redone;
- a conflict copy that a killed run left behind is adopted (not kept a second time) exactly when
  the edge proved it holds the remote version and the snapshot does not know it.

`make_plan` runs the pure steps of a run in order, planner then adoption pass (`bmsync.engine.run`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.engine.actions import (
    DeleteLocal,
    DeleteRemote,
    Download,
    Forget,
    Record,
    ResolveConflict,
    Upload,
)
from bmsync.engine.adopt import adopt_kept_copies
from bmsync.engine.plan import Plan, paths_to_compare, plan_sync
from bmsync.names import copy_names, free_conflict_copy, split_name
from bmsync.options import TwoWayConflict
from bmsync.types import Comparison, LocalFile, RemoteMeta, RemoteObject, Side, SnapshotEntry

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
PATHS = ["a.md", "b.md", "d/c.md", "d/e.md"]
CONTENTS = ["x", "y", "zz", "www"]


@dataclass
class World:
    local: dict[str, tuple[str, int]]  # path -> (content, mtime)
    remote: dict[str, tuple[str, int]]
    snapshot: dict[str, tuple[str, int]]
    unproven: frozenset[str] = field(default=frozenset())
    """Local conflict copies holding the remote version that the edge could not prove so
    (`Comparison.same_as_remote` leaves them out), as when no cheap evidence decides."""


def files(draw: st.DrawFn) -> dict[str, tuple[str, int]]:
    chosen = draw(st.sets(st.sampled_from(PATHS)))
    return {p: (draw(st.sampled_from(CONTENTS)), draw(st.integers(1, 4))) for p in sorted(chosen)}


@st.composite
def worlds(draw: st.DrawFn) -> World:
    return World(files(draw), files(draw), files(draw))


def trees(
    world: World,
) -> tuple[dict[str, LocalFile], dict[str, RemoteObject], dict[str, SnapshotEntry]]:
    local = {p: LocalFile(p, len(c), m, f"h-{c}") for p, (c, m) in world.local.items()}
    remote = {p: RemoteObject(p, len(c), f"e-{c}", m) for p, (c, m) in world.remote.items()}
    snapshot = {
        p: SnapshotEntry(p, len(c), m, f"h-{c}", f"e-{c}") for p, (c, m) in world.snapshot.items()
    }
    return local, remote, snapshot


def compare(world: World, resync: bool) -> dict[str, Comparison]:
    """What the edge answers for the paths modified on both sides (`bmsync.engine.compare`): equal
    or not, and which local conflict copies it proved to hold the remote version."""
    local, remote, snapshot = trees(world)
    names = sorted(world.local)
    comparisons = {}
    for p in paths_to_compare(local, remote, snapshot, resync=resync):
        content, mtime = world.remote[p]
        equal = world.local[p][0] == content
        proven = tuple(
            c
            for c in copy_names(p, names)
            if world.local[c][0] == content and c not in world.unproven
        )
        meta = RemoteMeta(f"e-{content}", len(content), 0, mtime, None)
        comparisons[p] = Comparison(equal, meta, () if equal else proven)
    return comparisons


def plan_without_adoption(world: World, strategy: TwoWayConflict, resync: bool) -> Plan:
    local, remote, snapshot = trees(world)
    comparisons = compare(world, resync)
    return plan_sync(
        local, remote, snapshot, comparisons, strategy=strategy, now=NOW, resync=resync
    )


def make_plan(world: World, strategy: TwoWayConflict, resync: bool = False) -> Plan:
    local, remote, snapshot = trees(world)
    planned = plan_without_adoption(world, strategy, resync)
    return adopt_kept_copies(planned, local, remote, snapshot, compare(world, resync))


def apply(world: World, plan: Plan) -> World:
    """What both sides and the snapshot hold after the executor carried out `plan`."""
    local, remote = dict(world.local), dict(world.remote)
    snapshot = dict(world.snapshot)
    for action in plan.actions:
        match action:
            case Upload():
                remote[action.path] = local[action.path]
                snapshot[action.path] = local[action.path]
            case Download():
                local[action.path] = remote[action.path]
                snapshot[action.path] = remote[action.path]
            case DeleteLocal():
                del local[action.path]
                snapshot.pop(action.path, None)
            case DeleteRemote():
                del remote[action.path]
                snapshot.pop(action.path, None)
            case Record():
                snapshot[action.path] = local[action.path]
            case Forget():
                snapshot.pop(action.path, None)
            case ResolveConflict():
                resolve(action, local, remote, snapshot)
    return World(local, remote, snapshot)


def resolve(
    action: ResolveConflict,
    local: dict[str, tuple[str, int]],
    remote: dict[str, tuple[str, int]],
    snapshot: dict[str, tuple[str, int]],
) -> None:
    """The executor's steps for a conflict (`Executor._resolve`), each asserting what the real
    step would refuse or silently clobber: a copy is only ever made at a free name."""
    copy, path = action.loser_copy, action.path
    if action.kept_at_path is Side.REMOTE:
        # The local loser is renamed to the copy (never replacing a file) and uploaded with
        # If-None-Match: *; then the remote winner is downloaded to the path.
        assert copy not in local and copy not in remote, f"{copy} is not a free name"
        local[copy] = remote[copy] = snapshot[copy] = local[path]
        local[path] = snapshot[path] = remote[path]
        return
    if action.kept_copy is None:
        assert copy not in local, f"the remote loser would be downloaded over {copy}"
        local[copy] = remote[path]
    if not action.copy_on_remote:
        # A server-side copy overwrites whatever is at the name: it must be free.
        assert copy not in remote, f"the server-side copy would overwrite {copy}"
        remote[copy] = remote[path]
    snapshot[copy] = local[copy]
    remote[path] = snapshot[path] = local[path]


def lost_versions(before: World, after: World, resync: bool) -> list[tuple[str, str]]:
    """(path, content) of versions on a side before that are on no side after, except the
    version both sides last agreed on (outside a resync): the only one a sync may drop."""
    surviving = {c for c, _ in after.local.values()} | {c for c, _ in after.remote.values()}
    lost = []
    for side in (before.local, before.remote):
        for path, (content, _) in side.items():
            known = before.snapshot.get(path)
            if content in surviving or (not resync and known is not None and known[0] == content):
                continue
            lost.append((path, content))
    return lost


strategies = st.sampled_from(list(TwoWayConflict))


@settings(max_examples=400, deadline=None)
@given(worlds(), strategies)
def test_first_run_never_deletes(world: World, strategy: TwoWayConflict) -> None:
    world.snapshot = {}
    plan = make_plan(world, strategy)
    assert not plan.of_type(DeleteLocal) and not plan.of_type(DeleteRemote)


@settings(max_examples=400, deadline=None)
@given(worlds(), strategies)
def test_resync_never_deletes(world: World, strategy: TwoWayConflict) -> None:
    plan = make_plan(world, strategy, resync=True)
    assert not plan.of_type(DeleteLocal) and not plan.of_type(DeleteRemote)


@settings(max_examples=600, deadline=None)
@given(worlds(), strategies, st.booleans())
def test_applying_a_plan_makes_both_sides_equal(
    world: World, strategy: TwoWayConflict, resync: bool
) -> None:
    after = apply(world, make_plan(world, strategy, resync))
    assert {p: c for p, (c, _) in after.local.items()} == {
        p: c for p, (c, _) in after.remote.items()
    }


@settings(max_examples=600, deadline=None)
@given(worlds(), strategies, st.booleans())
def test_replanning_after_applying_is_empty(
    world: World, strategy: TwoWayConflict, resync: bool
) -> None:
    after = apply(world, make_plan(world, strategy, resync))
    assert make_plan(after, strategy).actions == ()


@settings(max_examples=600, deadline=None)
@given(worlds(), strategies, st.booleans())
def test_only_versions_the_snapshot_knows_can_disappear(
    world: World, strategy: TwoWayConflict, resync: bool
) -> None:
    after = apply(world, make_plan(world, strategy, resync))
    assert not lost_versions(world, after, resync)


@settings(max_examples=300, deadline=None)
@given(worlds(), strategies)
def test_delete_counts_match_the_actions(world: World, strategy: TwoWayConflict) -> None:
    plan = make_plan(world, strategy)
    assert plan.local_deletes == len(plan.of_type(DeleteLocal))
    assert plan.remote_deletes == len(plan.of_type(DeleteRemote))
    for action in plan.of_type(DeleteLocal):
        assert world.snapshot[action.path][0] == world.local[action.path][0]
    for action in plan.of_type(DeleteRemote):
        assert world.snapshot[action.path][0] == world.remote[action.path][0]


# -- names the planner makes ------------------------------------------------------------------

segments = st.text(alphabet="ab.x-é ", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
project_paths = st.lists(segments, min_size=1, max_size=3).map("/".join)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=500, deadline=None)
@given(project_paths, stamps, st.booleans(), st.sets(st.integers(2, 6)))
def test_conflict_copies_stay_beside_their_file_and_are_recognised(
    path: str, stamp: datetime, first_taken: bool, taken_numbers: set[int]
) -> None:
    """A copy keeps the folder and the suffix (so it opens in the same editor), never takes a
    taken name but the first free one (unnumbered, then -2, -3, …), and is found again, with
    every earlier copy, by the pattern a conflict redone after a kill looks for."""
    folder, stem, suffix = split_name(path)
    base = f"{folder}{stem}.conflict-{stamp:%Y%m%d-%H%M%S}"
    earlier = {f"{base}-{n}{suffix}" for n in taken_numbers}
    if first_taken:
        earlier.add(f"{base}{suffix}")
    copy = free_conflict_copy(path, stamp, {path} | earlier)
    if first_taken:
        number = min(n for n in range(2, 9) if n not in taken_numbers)
        assert copy == f"{base}-{number}{suffix}"
    else:
        assert copy == f"{base}{suffix}"
    assert copy.startswith(f"{folder}{stem}.conflict-") and copy.endswith(suffix)
    assert "/" not in copy[len(folder) :]
    names = sorted({copy, path, *earlier, f"{folder}{stem}.conflict-x{suffix}"})
    assert set(copy_names(path, names)) == {copy} | earlier


# -- conflict copies a killed run left behind -------------------------------------------------

EARLIER = NOW - timedelta(days=1)


@st.composite
def worlds_with_left_copies(draw: st.DrawFn) -> World:
    """A world where a run was killed in the middle of conflicts: beside each of some paths,
    modified on both sides, one or two conflict copies (named as `free_conflict_copy` names
    them, this run's stamp included). A copy mostly holds the remote version (the killed run
    downloaded it) and may also be on the remote (it copied it there too), hold other bytes,
    be known to the snapshot (an older, synced copy) or be left unproven by the edge."""
    world = draw(worlds())
    unproven = set()
    for path in sorted(draw(st.sets(st.sampled_from(PATHS), min_size=1))):
        mine, theirs = draw(
            st.lists(st.sampled_from(CONTENTS), min_size=2, max_size=2, unique=True)
        )
        world.local[path] = (mine, draw(st.integers(1, 4)))
        world.remote[path] = (theirs, draw(st.integers(1, 4)))
        if draw(st.booleans()):
            world.snapshot.pop(path, None)
        taken: set[str] = set()
        for _ in range(draw(st.integers(1, 2))):
            copy = free_conflict_copy(path, draw(st.sampled_from([EARLIER, NOW])), taken)
            taken.add(copy)
            content = draw(st.sampled_from([theirs, theirs, *CONTENTS]))
            world.local[copy] = (content, draw(st.integers(1, 4)))
            match draw(st.sampled_from(["local only", "both sides", "other bytes remotely"])):
                case "both sides":
                    world.remote[copy] = (content, draw(st.integers(1, 4)))
                case "other bytes remotely":
                    world.remote[copy] = (draw(st.sampled_from(CONTENTS)), 1)
            if draw(st.integers(0, 3)) == 0:
                world.snapshot[copy] = (content, world.local[copy][1])
            if draw(st.integers(0, 3)) == 0:
                unproven.add(copy)
    world.unproven = frozenset(unproven)
    return world


def adoptable(world: World, comparisons: dict[str, Comparison], path: str) -> list[str]:
    """The copies of `path` a conflict must adopt rather than keep the loser again: proven to
    hold the remote version, unknown to the snapshot, and not on the remote with other bytes."""
    return [
        copy
        for copy in comparisons[path].same_as_remote
        if copy not in world.snapshot
        and world.remote.get(copy, world.local[copy])[0] == world.local[copy][0]
    ]


def test_copies_left_by_a_killed_conflict_are_adopted_only_on_proof() -> None:
    """The adoption pass over random worlds with left copies; the counts at the end prove the
    generator reaches every case the invariants are about."""
    seen: Counter[str] = Counter()

    @settings(max_examples=600, deadline=None)
    @given(worlds_with_left_copies(), strategies, st.booleans())
    def check(world: World, strategy: TwoWayConflict, resync: bool) -> None:
        comparisons = compare(world, resync)
        planned = plan_without_adoption(world, strategy, resync)
        plan = make_plan(world, strategy, resync)
        adopted = {a.loser_copy: a for a in plan.of_type(ResolveConflict) if a.kept_copy}
        for copy, conflict in adopted.items():
            assert conflict.kept_at_path is Side.LOCAL
            assert copy in comparisons[conflict.path].same_as_remote, "adopted without proof"
            assert copy not in world.snapshot, "adopted a copy the snapshot knows"
            assert conflict.kept_copy == trees(world)[0][copy]
            assert conflict.copy_on_remote == (copy in world.remote)
            seen["adopted, on both sides" if copy in world.remote else "adopted, local only"] += 1
        for conflict in plan.of_type(ResolveConflict):
            if conflict.kept_at_path is Side.LOCAL and comparisons[conflict.path].same_as_remote:
                candidates = adoptable(world, comparisons, conflict.path)
                # No loser kept twice: a new copy only when no left copy can be adopted.
                assert not candidates or conflict.loser_copy in candidates, (conflict, candidates)
                seen["proven copies, none adoptable" if not candidates else "adoptable"] += 1
        uploads = {a.path for a in planned.of_type(Upload)}
        kept_uploads = {a.path for a in plan.of_type(Upload)}
        assert kept_uploads <= uploads
        assert uploads - kept_uploads == {c for c in adopted if c not in world.remote}
        unchanged = [a for a in planned.actions if not isinstance(a, ResolveConflict | Upload)]
        assert [a for a in plan.actions if not isinstance(a, ResolveConflict | Upload)] == unchanged
        after = apply(world, plan)
        assert {p: c for p, (c, _) in after.local.items()} == {
            p: c for p, (c, _) in after.remote.items()
        }
        assert not lost_versions(world, after, resync)
        assert make_plan(after, strategy).actions == ()
        for path, comparison in comparisons.items():
            for copy in copy_names(path, sorted(world.local)):
                if not comparison.equal and world.local[copy][0] == world.remote[path][0]:
                    seen["left copy unproven"] += copy in world.unproven
                    seen["left copy known to the snapshot"] += copy in world.snapshot

    check()
    assert min(seen.values()) >= 10 and len(seen) == 6, seen
