"""Names bmsync makes beside a file (conflict copies, restored versions) fit where the file does.

Issue 16: a conflict on a 237-byte name (78 CJK characters and `.md`, legal) wanted a copy 25
bytes longer, which no folder can hold, and failed the same way on every run. `sibling` cuts
the stem by whole characters so each name fits in 255 bytes per segment and in the room a key
has below the remote's prefix (1,024 bytes in all); `copy_names` still recognises the cut
copies, or the adoption of a killed run's copy would miss them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import bmsync.integrations.basic_memory as bm
from bmsync import list_trash, restore_file, sync_project
from bmsync.local.trash import Trash
from bmsync.names import (
    MAX_KEY_BYTES,
    MAX_NAME_BYTES,
    copy_names,
    free_conflict_copy,
    segment_problem,
    sibling,
)
from bmsync.runs import new_run_id
from bmsync.state.paths import ProjectPaths
from tests.servers import S3TestServer

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
CJK = "漢" * 78 + ".md"  # 237 bytes
STAMP = "conflict-20261123-101500"


def utf8(text: str) -> int:
    return len(text.encode())


def test_a_conflict_copy_of_a_237_byte_name_is_cut_to_255_bytes() -> None:
    copy = free_conflict_copy(f"notes/{CJK}", NOW, set())
    name = copy.removeprefix("notes/")
    assert utf8(name) <= MAX_NAME_BYTES and segment_problem(name) is None
    assert name == "漢" * 75 + f".{STAMP}.md"  # 225 + 25 + 3 bytes: whole characters only
    assert copy_names(f"notes/{CJK}", sorted(["notes/x.md", copy])) == [copy]


def test_a_copy_fits_in_the_room_a_key_has_below_the_prefix() -> None:
    folder = "d" * 200 + "/" + "e" * 200 + "/"
    path = folder + "n" * 120 + ".md"
    room = utf8(path) + 10  # the prefix leaves 10 bytes more than the file takes
    copy = free_conflict_copy(path, NOW, set(), max_path_bytes=room)
    assert utf8(copy) <= room and copy.startswith(folder + "n") and copy.endswith(f".{STAMP}.md")
    assert copy_names(path, [copy], max_path_bytes=room) == [copy]
    assert copy_names(path, [copy]) == [], "a copy is one the same room would have named"


def test_numbered_copies_are_cut_further_and_found_oldest_first() -> None:
    path = "n" * 250 + ".md"
    copies = [sibling(path, STAMP)(n) for n in (1, 2, 10)]
    earlier = free_conflict_copy(path, datetime(2025, 1, 1, tzinfo=UTC), set())
    assert all(utf8(c) == MAX_NAME_BYTES for c in copies)
    assert copy_names(path, sorted([*copies, earlier, path, "n.md"])) == [earlier, *copies]


def test_a_suffix_too_long_to_keep_is_cut_with_the_stem() -> None:
    path = "a." + "b" * 250
    copy = sibling(path, STAMP)(1)
    assert utf8(copy) <= MAX_NAME_BYTES and copy.startswith("a.bbb") and copy.endswith(STAMP)
    assert copy_names(path, [copy]) == [copy]


def test_basic_memorys_transfer_copy_name_is_cut_the_same_way() -> None:
    copy = bm.conflict_copy_name(f"notes/{CJK}", "20261123-101500")
    assert copy == free_conflict_copy(f"notes/{CJK}", NOW, set())


def test_short_names_keep_their_form() -> None:
    assert free_conflict_copy("a/t.tar.gz", NOW, set()) == f"a/t.tar.{STAMP}.gz"
    assert sibling("x.md", "restored-20261123T101500")(2) == "x.restored-20261123T101500-2.md"


# -- properties ----------------------------------------------------------------------------

SEGMENT_CHARS = st.sampled_from(["a", "Z", "é", "漢", "😀", ".", " ", "-", "ß"])


@st.composite
def legal_paths(draw: st.DrawFn) -> str:
    """A path whose every segment is legal (at most 255 bytes, not `.`/`..`), in at most three
    folders, its total within a key's 1,024 bytes with room for a name in its folder."""
    folders = draw(st.lists(st.text(SEGMENT_CHARS, min_size=1, max_size=60), max_size=3))
    folders = [f for f in folders if segment_problem(f, windows=False) is None]
    # A short pattern repeated, so names near the 255-byte limit come up as often as short ones.
    name = draw(st.text(SEGMENT_CHARS, min_size=1, max_size=12)) * draw(st.integers(1, 120))
    while utf8(name) > MAX_NAME_BYTES:
        name = name[:-1]
    path = "/".join([*folders, name])
    if segment_problem(name, windows=False) is not None or utf8(path) > MAX_KEY_BYTES - 64:
        return "x.md"
    return path


@given(legal_paths(), st.integers(1, 10_000), st.sampled_from([STAMP, "restored-20261123T1015"]))
def test_every_sibling_of_a_legal_name_is_legal_and_not_the_original(
    path: str, number: int, tag: str
) -> None:
    made = sibling(path, tag)(number)
    parent = path.rpartition("/")[0]
    assert made != path
    assert made.rpartition("/")[0] == parent, "a sibling stays in its folder"
    assert segment_problem(made.rpartition("/")[2], windows=False) is None, made
    assert utf8(made) <= MAX_KEY_BYTES
    if tag == STAMP:
        assert copy_names(path, [made]) == [made]


@given(legal_paths(), st.integers(1, 50), st.integers(1, 50))
def test_siblings_of_one_name_are_distinct(path: str, one: int, two: int) -> None:
    series = sibling(path, STAMP)
    assert (series(one) == series(two)) == (one == two)


# -- a real run --------------------------------------------------------------------------------


async def test_a_conflict_on_a_237_byte_name_keeps_both_and_then_rests(
    tmp_path: Path, s3_server: S3TestServer
) -> None:
    """On a real server: the conflict keeps both versions, the copy under a cut name on both
    sides, and the next run finds nothing to do (it failed on every run before); a restored
    version beside it is cut the same way."""
    bucket = s3_server.create_bucket()
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/research"
    root.mkdir()
    (root / CJK).write_text("one")

    async def sync() -> list[str]:
        report = await sync_project(
            root, url, s3=s3_server.config, state_dir=state, now=NOW, conflict="keep-both"
        )
        assert report.status == "ok" and report.errors == [], report.errors
        return [c.loser_copy for c in report.conflicts if c.loser_copy]

    await sync()
    (root / CJK).write_text("local edit")
    s3_server.client.put_object(Bucket=bucket, Key=f"research/{CJK}", Body=b"remote edit")
    copies = await sync()
    assert copies == ["漢" * 75 + f".{STAMP}.md"]
    keys = s3_server.client.list_objects_v2(Bucket=bucket, Prefix="research/")["Contents"]
    assert sorted(o["Key"] for o in keys) == sorted(f"research/{n}" for n in [CJK, copies[0]])
    assert {p.read_text() for p in root.iterdir()} == {"local edit", "remote edit"}
    assert await sync() == []
    s3_server.client.put_object(Bucket=bucket, Key=f"research/{CJK}", Body=b"remote again")
    assert await sync() == []  # the download puts the version it replaces in the trash
    restored = await restore_file(root, url, CJK, side="local", state_dir=state)
    assert restored.restored_to.startswith("漢" * 60) and utf8(restored.restored_to) <= 255
    assert ".restored-" in restored.restored_to and (root / restored.restored_to).exists()


async def test_a_second_version_of_a_255_byte_name_fits_in_the_trash_and_is_listed(
    tmp_path: Path,
) -> None:
    """Two versions of one path in one run's trash: the second is `name.2`, cut to fit, and the
    trash listing gives it back under the path it was kept for."""
    url, state = "s3://bucket/notes", tmp_path / "state"
    paths = ProjectPaths.resolve(state, url)
    paths.ensure()
    long_name = "漢" * 85  # 255 bytes
    trash = Trash(paths.trash, new_run_id(NOW))
    for content in ("first", "second"):
        source = tmp_path / content
        source.write_text(content)
        kept = trash.keep_copy(source, f"d/{long_name}")
        assert utf8(kept.name) <= MAX_NAME_BYTES
    versions = await list_trash(url, side="local", state_dir=state)
    assert sorted((v.path, v.number) for v in versions) == [
        (f"d/{long_name}", 1),
        (f"d/{long_name}", 2),
    ]
