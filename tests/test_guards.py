"""The safety guards (`bmsync/engine/guards.py`), pure: one test per case of docs/semantics.md,
"Guards", and Hypothesis properties of the empty-side guard over random three-tree states.

The run-level checks (the guard stops a real run on a real S3 server, and nothing changes) are
in test_integration.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmsync.engine.actions import DeleteLocal, DeleteRemote
from bmsync.engine.guards import empty_side_reason, max_delete_reason
from bmsync.engine.plan import Plan
from bmsync.options import MaxDelete, Mode, SyncOptions
from bmsync.types import LocalFile, RemoteObject, SnapshotEntry

NOTES = [f"note{i}.md" for i in range(20)]
DELETING = [Mode.BISYNC, Mode.MIRROR]
"""The modes the empty-side guard protects: a prune deletes only what the rules exclude (so an
emptied folder changes nothing it deletes), push and pull delete nothing."""


def local_file(path: str, content: str = "") -> LocalFile:
    return LocalFile(path, len(content or path), 1, f"x-{content or path}")


def remote_object(path: str, content: str = "") -> RemoteObject:
    return RemoteObject(path, len(content or path), f"e-{content or path}", 1)


def entry(path: str) -> SnapshotEntry:
    return SnapshotEntry(path, len(path), 1, f"x-{path}", f"e-{path}")


def reason(
    local: list[str],
    remote: list[str],
    snapshot: list[str],
    mode: Mode = Mode.BISYNC,
    *,
    renamed_local: dict[str, str] | None = None,
    renamed_remote: dict[str, str] | None = None,
    **options: bool,
) -> str | None:
    """The empty-side guard on trees of the given paths; `renamed_*` maps a new path to the
    recorded path whose content it holds."""
    local_files = {p: local_file(p) for p in local}
    local_files |= {p: local_file(p, old) for p, old in (renamed_local or {}).items()}
    remote_files = {p: remote_object(p) for p in remote}
    remote_files |= {p: remote_object(p, old) for p, old in (renamed_remote or {}).items()}
    return empty_side_reason(
        local=local_files,
        remote=remote_files,
        snapshot={p: entry(p) for p in snapshot},
        local_exists=True,
        options=SyncOptions(mode=mode, **options),
    )


# -- empty side: the folder replaced by one with only new files --------------------------------


@pytest.mark.parametrize("mode", DELETING)
def test_emptied_folder_with_one_new_file_trips(mode: Mode) -> None:
    found = reason(["Welcome.md"], NOTES, NOTES, mode)
    assert found is not None
    assert "holds none of the 20 files the last sync recorded" in found
    assert "only 1 new file (Welcome.md)" in found and "force" in found


def test_emptied_remote_with_one_new_object_trips() -> None:
    found = reason(NOTES, ["Welcome.md"], NOTES)
    assert found is not None
    assert "remote prefix holds none of the 20 files the last sync recorded" in found
    assert "only 1 new file (Welcome.md)" in found
    assert "would delete them locally" in found


def test_mirror_does_not_guard_the_remote_side() -> None:
    """A mirror never deletes local files: a remote that lost them is simply refilled."""
    assert reason(NOTES, ["Welcome.md"], NOTES, Mode.MIRROR) is None


@pytest.mark.parametrize("mode", [*DELETING, Mode.PRUNE])
def test_force_lifts_the_empty_side_guard(mode: Mode) -> None:
    assert reason(["Welcome.md"], NOTES, NOTES, mode, force=True) is None


@pytest.mark.parametrize("mode", [Mode.PUSH, Mode.PULL, Mode.PRUNE])
def test_modes_that_delete_no_tracked_file_have_no_empty_side_guard(mode: Mode) -> None:
    assert reason(["Welcome.md"], NOTES, NOTES, mode) is None
    assert reason(NOTES, ["Welcome.md"], NOTES, mode) is None


def test_one_surviving_note_is_no_emptying() -> None:
    assert reason(["Welcome.md", "note7.md"], NOTES, NOTES) is None
    assert reason(NOTES, ["Welcome.md", "note7.md"], NOTES) is None


def test_renaming_every_note_is_no_emptying() -> None:
    """Moving every note into a folder leaves their bytes: the moves pass syncs them as moves."""
    moved = {f"archive/{p}": p for p in NOTES}
    assert reason([], NOTES, NOTES, renamed_local=moved) is None
    assert reason(NOTES, [], NOTES, renamed_remote=moved) is None


def test_first_run_and_resync_of_a_bisync_have_no_empty_side_guard() -> None:
    assert reason(["Welcome.md"], NOTES, []) is None
    assert reason(["Welcome.md"], NOTES, NOTES, resync=True) is None


def test_both_sides_emptied_deletes_nothing_and_passes() -> None:
    assert reason([], [], NOTES) is None


# -- properties ----------------------------------------------------------------------------------

PATHS = ["a.md", "b.md", "d/c.md", "d/e.md", "Welcome.md", "new/x.md"]


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[str], list[str], list[str]]:
    snapshot = draw(st.lists(st.sampled_from(PATHS), min_size=1, unique=True))
    local = draw(st.lists(st.sampled_from(PATHS), unique=True))
    remote = draw(st.lists(st.sampled_from(PATHS), unique=True))
    return local, remote, snapshot


@given(trees(), st.sampled_from(DELETING))
def test_a_side_holding_none_of_the_snapshot_trips_whatever_it_holds_instead(
    state: tuple[list[str], list[str], list[str]], mode: Mode
) -> None:
    """Every recorded file gone from the folder, the remote holding files: the guard trips,
    whatever new files the folder holds (and the same for the remote side, in a bisync)."""
    local, remote, snapshot = state
    local = [p for p in local if p not in snapshot]
    if remote:
        assert reason(local, remote, snapshot, mode) is not None
    if mode is Mode.BISYNC and local:
        assert reason(remote=[p for p in remote if p not in snapshot], local=local,
                      snapshot=snapshot) is not None  # fmt: skip


@given(trees(), st.sampled_from(DELETING))
def test_a_recorded_file_on_both_sides_never_trips(
    state: tuple[list[str], list[str], list[str]], mode: Mode
) -> None:
    local, remote, snapshot = state
    kept = snapshot[0]
    assert reason([*{*local, kept}], [*{*remote, kept}], snapshot, mode) is None


# -- max-delete: a share of what --------------------------------------------------------------


def deletes_plan(*, remote_deletes: int, snapshot: int, remote: int, local: int = 0) -> Plan:
    actions = tuple(
        DeleteRemote(f"d{i}.md", remote_object(f"d{i}.md")) for i in range(remote_deletes)
    )
    return Plan(actions, snapshot_size=snapshot, local_size=local, remote_size=remote)


def test_a_share_of_an_empty_snapshot_is_a_share_of_the_destination() -> None:
    """A first mirror with 50%: one remote-only file among ten is 10%, no reason to abort."""
    options = SyncOptions(mode=Mode.MIRROR, max_delete=MaxDelete(percent=50))
    assert max_delete_reason(deletes_plan(remote_deletes=1, snapshot=0, remote=10), options) is None
    found = max_delete_reason(deletes_plan(remote_deletes=6, snapshot=0, remote=10), options)
    assert found is not None and "(max-delete is 50%, i.e. 5)" in found


def test_a_share_of_a_snapshot_stays_a_share_of_the_snapshot() -> None:
    options = SyncOptions(max_delete=MaxDelete(percent=50))
    plan = deletes_plan(remote_deletes=3, snapshot=4, remote=100)
    found = max_delete_reason(plan, options)
    assert found is not None and "i.e. 2" in found


def test_each_side_is_a_share_of_its_own_files() -> None:
    options = SyncOptions(max_delete=MaxDelete(percent=50))
    plan = Plan(
        tuple(DeleteLocal(f"d{i}.md", local_file(f"d{i}.md")) for i in range(2)),
        local_size=2,
        remote_size=100,
    )
    found = max_delete_reason(plan, options)
    assert found is not None and "from the local folder" in found and "i.e. 1" in found
    assert max_delete_reason(replace(plan, local_size=4), options) is None
