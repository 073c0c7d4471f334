"""The decision table of docs/semantics.md, one test per row, on the pure planner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
from bmsync.engine.plan import Plan, choose_winner, paths_to_compare, plan_sync
from bmsync.names import free_conflict_copy
from bmsync.options import TwoWayConflict
from bmsync.types import (
    Comparison,
    Create,
    LocalFile,
    RemoteMeta,
    RemoteObject,
    Side,
    SnapshotEntry,
    Update,
)

NOW = datetime(2026, 11, 23, 10, 15, 0, tzinfo=UTC)
P = "notes/x.md"


def lf(content: str = "a", mtime: int = 1_000, path: str = P) -> LocalFile:
    return LocalFile(path, len(content), mtime, f"h-{content}")


def ro(content: str = "a", path: str = P, modified: int = 1_000) -> RemoteObject:
    return RemoteObject(path, len(content), f"e-{content}", modified)


def snap(content: str = "a", mtime: int = 1_000, path: str = P) -> SnapshotEntry:
    return SnapshotEntry(path, len(content), mtime, f"h-{content}", f"e-{content}")


def meta(content: str, mtime: int | None) -> RemoteMeta:
    return RemoteMeta(f"e-{content}", len(content), 500, mtime, f"h-{content}")


def plan_one(
    local: LocalFile | None,
    remote: RemoteObject | None,
    snapshot: SnapshotEntry | None,
    comparison: Comparison | None = None,
    *,
    strategy: TwoWayConflict = TwoWayConflict.NEWER,
    resync: bool = False,
) -> Plan:
    return plan_sync(
        {P: local} if local else {},
        {P: remote} if remote else {},
        {P: snapshot} if snapshot else {},
        {P: comparison} if comparison else {},
        strategy=strategy,
        now=NOW,
        resync=resync,
    )


def only(plan: Plan) -> object:
    assert len(plan.actions) == 1, plan.actions
    return plan.actions[0]


# Row: local new, remote absent -> upload as a new key (If-None-Match).
def test_local_new_remote_absent_uploads_with_create() -> None:
    action = only(plan_one(lf("a"), None, None))
    assert isinstance(action, Upload) and action.mode == Create() and action.replaces is None


# Row: local changed, remote unchanged -> upload over the listed ETag.
def test_local_changed_remote_unchanged_uploads_with_if_match() -> None:
    action = only(plan_one(lf("b"), ro("a"), snap("a")))
    assert isinstance(action, Upload)
    assert action.mode == Update("e-a") and action.replaces == ro("a")


# Row: local unchanged, remote changed -> download over the local file (trash first).
def test_local_unchanged_remote_changed_downloads() -> None:
    action = only(plan_one(lf("a"), ro("b"), snap("a")))
    assert isinstance(action, Download) and action.replaces == lf("a")


# Row: local absent, remote new -> download to a free path.
def test_remote_new_local_absent_downloads() -> None:
    action = only(plan_one(None, ro("b"), None))
    assert isinstance(action, Download) and action.replaces is None


# Row: local deleted, remote unchanged -> delete remote.
def test_local_deleted_remote_unchanged_deletes_remote() -> None:
    assert isinstance(only(plan_one(None, ro("a"), snap("a"))), DeleteRemote)


# Row: local unchanged, remote deleted -> delete local.
def test_local_unchanged_remote_deleted_deletes_local() -> None:
    assert isinstance(only(plan_one(lf("a"), None, snap("a"))), DeleteLocal)


# Row: deleted on both sides -> forget the snapshot row.
def test_deleted_both_sides_forgets() -> None:
    assert only(plan_one(None, None, snap("a"))) == Forget(P)


# Row: local changed, remote deleted -> upload (an edit beats a delete).
def test_local_changed_remote_deleted_uploads() -> None:
    action = only(plan_one(lf("b"), None, snap("a")))
    assert isinstance(action, Upload) and action.mode == Create()


# Row: local deleted, remote changed -> download (an edit beats a delete).
def test_local_deleted_remote_changed_downloads() -> None:
    action = only(plan_one(None, ro("b"), snap("a")))
    assert isinstance(action, Download) and action.replaces is None


# Row: unchanged both sides -> nothing.
def test_unchanged_both_sides_does_nothing() -> None:
    assert plan_one(lf("a"), ro("a"), snap("a")).actions == ()


# Row: touched (same bytes, new mtime) -> refresh the snapshot quietly, transfer nothing.
def test_touched_file_refreshes_snapshot_only() -> None:
    action = only(plan_one(lf("a", mtime=9_000), ro("a"), snap("a", mtime=1_000)))
    assert isinstance(action, Record) and action.entry.mtime_ns == 9_000


# Row: modified on both sides, same content -> record, transfer nothing.
def test_both_modified_same_content_records() -> None:
    action = only(plan_one(lf("b"), ro("b"), snap("a"), Comparison(True, meta("b", 1))))
    assert isinstance(action, Record) and action.entry.etag == "e-b"


# Row: new on both sides, same content (first run) -> record.
def test_both_new_same_content_records() -> None:
    assert isinstance(
        only(plan_one(lf("b"), ro("b"), None, Comparison(True, meta("b", 1)))), Record
    )


# Row: modified on both sides, different content -> conflict, newer wins.
def test_both_modified_differently_conflict_newer_local_wins() -> None:
    action = only(
        plan_one(lf("b", mtime=2_000), ro("c"), snap("a"), Comparison(False, meta("c", 1_500)))
    )
    assert isinstance(action, ResolveConflict)
    assert action.winner is Side.LOCAL
    assert action.loser_copy == "notes/x.conflict-20261123-101500.md"


def test_both_modified_differently_conflict_newer_remote_wins() -> None:
    action = only(
        plan_one(lf("b", mtime=1_000), ro("c"), snap("a"), Comparison(False, meta("c", 1_500)))
    )
    assert isinstance(action, ResolveConflict) and action.winner is Side.REMOTE


def test_conflict_tie_keeps_remote_at_path() -> None:
    action = only(
        plan_one(lf("b", mtime=1_500), ro("c"), snap("a"), Comparison(False, meta("c", 1_500)))
    )
    assert isinstance(action, ResolveConflict)
    assert action.winner is Side.REMOTE and action.kept_at_path is Side.REMOTE


def test_conflict_remote_without_mtime_metadata_uses_last_modified() -> None:
    # LastModified is 500 in `meta`; the local mtime 1000 is newer.
    action = only(plan_one(lf("b"), ro("c"), snap("a"), Comparison(False, meta("c", None))))
    assert isinstance(action, ResolveConflict) and action.winner is Side.LOCAL


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (TwoWayConflict.NEWER, Side.LOCAL),
        (TwoWayConflict.OLDER, Side.REMOTE),
        (TwoWayConflict.LARGER, Side.LOCAL),
        (TwoWayConflict.SMALLER, Side.REMOTE),
        (TwoWayConflict.LOCAL, Side.LOCAL),
        (TwoWayConflict.REMOTE, Side.REMOTE),
        (TwoWayConflict.KEEP_BOTH, None),
    ],
)
def test_conflict_strategies(strategy: TwoWayConflict, expected: Side | None) -> None:
    local = lf("longer", mtime=2_000)
    remote = Comparison(False, meta("c", 1_000))
    assert choose_winner(strategy, local, remote) is expected


def test_keep_both_keeps_remote_at_path_and_local_as_copy() -> None:
    action = only(
        plan_one(
            lf("b"),
            ro("c"),
            snap("a"),
            Comparison(False, meta("c", 1)),
            strategy=TwoWayConflict.KEEP_BOTH,
        )
    )
    assert isinstance(action, ResolveConflict)
    assert action.winner is None and action.kept_at_path is Side.REMOTE


def test_missing_comparison_leaves_path_alone() -> None:
    plan = plan_one(lf("b"), ro("c"), snap("a"))
    assert plan.actions == () and plan.skipped == (P,)


def test_paths_to_compare_names_only_doubly_modified_paths() -> None:
    local = {P: lf("b"), "y.md": lf("a", path="y.md"), "z.md": lf("a", path="z.md")}
    remote = {P: ro("c"), "y.md": ro("b", path="y.md"), "z.md": ro("q", path="z.md")}
    snapshot = {P: snap("a"), "y.md": snap("a", path="y.md")}
    assert paths_to_compare(local, remote, snapshot) == [P, "z.md"]


def test_resync_ignores_the_snapshot_and_never_deletes() -> None:
    plan = plan_sync(
        {"a.md": lf("a", path="a.md")},
        {"b.md": ro("b", path="b.md")},
        {
            "a.md": snap("a", path="a.md"),
            "b.md": snap("b", path="b.md"),
            "c.md": snap("c", path="c.md"),
        },
        {},
        strategy=TwoWayConflict.NEWER,
        now=NOW,
        resync=True,
    )
    kinds = {a.path: type(a) for a in plan.actions}
    assert kinds == {"a.md": Upload, "b.md": Download, "c.md": Forget}


def test_conflict_copy_name_formats() -> None:
    assert free_conflict_copy("x.md", NOW, set()) == "x.conflict-20261123-101500.md"
    assert free_conflict_copy("a/README", NOW, set()) == "a/README.conflict-20261123-101500"
    assert free_conflict_copy("a/t.tar.gz", NOW, set()) == "a/t.tar.conflict-20261123-101500.gz"


def test_conflict_copy_name_avoids_taken_names() -> None:
    taken = {"x.conflict-20261123-101500.md", "x.conflict-20261123-101500-2.md"}
    assert free_conflict_copy("x.md", NOW, taken) == "x.conflict-20261123-101500-3.md"


def test_two_conflicts_in_one_run_get_distinct_copy_names() -> None:
    # The copy name of the first conflict must not be reused by a same-named file elsewhere.
    local = {
        "x.md": lf("b", path="x.md"),
        "x.conflict-20261123-101500.md": lf("z", path="x.conflict-20261123-101500.md"),
    }
    remote = {"x.md": ro("c", path="x.md")}
    plan = plan_sync(
        local,
        remote,
        {},
        {"x.md": Comparison(False, meta("c", 1))},
        strategy=TwoWayConflict.NEWER,
        now=NOW,
    )
    conflict = plan.of_type(ResolveConflict)[0]
    assert conflict.loser_copy == "x.conflict-20261123-101500-2.md"


def test_upload_over_nfd_remote_key_targets_that_key() -> None:
    remote = RemoteObject(P, 1, "e-a", 1, raw_relkey="notes/x\u0301.md")
    action = only(plan_one(lf("b"), remote, snap("a")))
    assert isinstance(action, Upload) and action.relkey == "notes/x\u0301.md"


# -- a conflict a killed run began -----------------------------------------------------------

OLD_COPY = "notes/x.conflict-20261122-090000.md"


def replan_after_kill(
    copy: LocalFile,
    copy_remote: RemoteObject | None,
    *,
    proven: bool = True,
    copy_in_snapshot: bool = False,
    copy_remote_equal: bool = True,
    local_mtime: int = 2_000,
) -> Plan:
    """The local edit `b` against the remote edit `c`, with the remote loser already downloaded
    to OLD_COPY (and maybe copied remotely) by a run killed before it finished; `proven`: the
    edge found the copy's bytes equal to the remote version's."""
    local = {P: lf("b", mtime=local_mtime), copy.path: copy}
    remote = {P: ro("c")} | ({copy_remote.path: copy_remote} if copy_remote else {})
    snapshot = {P: snap("a")} | ({copy.path: snap("c", path=copy.path)} if copy_in_snapshot else {})
    same = (copy.path,) if proven else ()
    comparisons = {P: Comparison(False, meta("c", 1_500), same)}
    if copy_remote is not None and not copy_in_snapshot:
        comparisons[copy.path] = Comparison(copy_remote_equal, meta("z", 1_500))
    plan = plan_sync(local, remote, snapshot, comparisons, strategy=TwoWayConflict.NEWER, now=NOW)
    return adopt_kept_copies(plan, local, remote, snapshot, comparisons)


def test_conflict_adopts_the_copy_a_killed_run_downloaded() -> None:
    copy = lf("c", path=OLD_COPY)
    (conflict,) = replan_after_kill(copy, None).actions
    assert isinstance(conflict, ResolveConflict) and conflict.winner is Side.LOCAL
    assert (conflict.loser_copy, conflict.kept_copy, conflict.copy_on_remote) == (
        OLD_COPY,
        copy,
        False,
    ), "no second copy, and no separate upload of the first"


def test_conflict_adopts_a_copy_already_on_both_sides() -> None:
    plan = replan_after_kill(lf("c", path=OLD_COPY), ro("c", path=OLD_COPY))
    conflict = plan.of_type(ResolveConflict)[0]
    assert (conflict.loser_copy, conflict.copy_on_remote) == (OLD_COPY, True)
    assert [a.path for a in plan.of_type(Record)] == [OLD_COPY], "the copy's row is written"


def test_conflict_never_adopts_an_unproven_copy() -> None:
    plan = replan_after_kill(lf("c", path=OLD_COPY), None, proven=False)
    conflict = plan.of_type(ResolveConflict)[0]
    assert (
        conflict.kept_copy is None and conflict.loser_copy == "notes/x.conflict-20261123-101500.md"
    )
    assert [a.path for a in plan.of_type(Upload)] == [OLD_COPY]


def test_conflict_never_adopts_a_copy_the_snapshot_knows() -> None:
    """An agreed file from an earlier conflict is the user's, not a leftover of a killed run."""
    plan = replan_after_kill(lf("c", path=OLD_COPY), ro("c", path=OLD_COPY), copy_in_snapshot=True)
    conflict = plan.of_type(ResolveConflict)[0]
    assert conflict.kept_copy is None and conflict.loser_copy != OLD_COPY


def test_remote_winner_never_adopts() -> None:
    """When the remote wins, the local loser is renamed, which a kill cannot leave half done."""
    plan = replan_after_kill(lf("c", path=OLD_COPY), None, local_mtime=1_000)
    conflict = plan.of_type(ResolveConflict)[0]
    assert conflict.winner is Side.REMOTE and conflict.kept_copy is None


def test_copy_in_conflict_itself_is_not_adopted() -> None:
    copy = lf("c", path=OLD_COPY)
    # Another version is at the copy's name remotely: that name is a conflict of its own.
    plan = replan_after_kill(copy, ro("z", path=OLD_COPY), copy_remote_equal=False)
    assert {a.path: a.kept_copy for a in plan.of_type(ResolveConflict)} == {
        P: None,
        OLD_COPY: None,
    }, "only a copy planned as an upload or a record is adopted"
