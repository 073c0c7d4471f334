"""On-disk names: NFD folders keep their spelling; a rename by letter case alone is a move.

macOS writes names in NFD; keys and the sync's paths are NFC. A file keeps its on-disk name
(test_engine's `test_nfd_local_name_syncs_as_nfc_key`); so must a folder, or a file added under
it on the other side (a download, a conflict copy, a move's target, a restored version, a
folder of a marker) would land in a second, NFC-named folder beside it. Linux keeps names as
given, so an NFD folder made here stands for the one macOS would have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bmsync import SyncReport, restore_file, sync_project
from bmsync.local import ops
from bmsync.local.casefs import (
    folders_as_listed,
    is_case_insensitive,
    is_case_rename,
    unsyncable_twins,
)
from bmsync.testing import MemoryRemote
from tests.servers import S3TestServer

NFC = "Café"
NFD = unicodedata.normalize("NFD", NFC)
assert NFD != NFC


def tree(root: Path) -> list[str]:
    """Every path below `root` as spelled on disk, folders included."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def on_disk(*parts: str) -> str:
    return "/".join(parts)


class Pair:
    """A folder holding `<NFD>/a.md`, synced to a prefix of a real server."""

    def __init__(self, tmp_path: Path, s3_server: S3TestServer, bucket: str) -> None:
        self.root, self.state = tmp_path / "notes", tmp_path / "state"
        self.server, self.bucket, self.url = s3_server, bucket, f"s3://{bucket}/kb"
        (self.root / NFD).mkdir(parents=True)
        (self.root / NFD / "a.md").write_text("a, as first synced")
        (self.root / "top.md").write_text("top")

    async def sync(self, **kw: Any) -> SyncReport:
        report = await sync_project(
            self.root, self.url, state_dir=self.state, s3=self.server.config, **kw
        )
        assert report.status == "ok", report.summary()
        return report

    def put(self, key: str, body: bytes) -> None:
        self.server.client.put_object(Bucket=self.bucket, Key=f"kb/{key}", Body=body)

    def rename(self, old: str, new: str) -> None:
        source = {"Bucket": self.bucket, "Key": f"kb/{old}"}
        self.server.client.copy_object(Bucket=self.bucket, Key=f"kb/{new}", CopySource=source)
        self.server.client.delete_object(Bucket=self.bucket, Key=f"kb/{old}")


@pytest.fixture
def pair(tmp_path: Path, s3_server: S3TestServer, bucket: str) -> Pair:
    return Pair(tmp_path, s3_server, bucket)


async def test_remote_files_land_in_the_nfd_folder(pair: Pair) -> None:
    """A new key and a rename into the NFC name of the folder, and a new folder below it."""
    await pair.sync()
    pair.put(f"{NFC}/new.md", b"new")
    pair.put(f"{NFC}/sub/deep.md", b"deep")
    pair.rename("top.md", f"{NFC}/top.md")
    report = await pair.sync()
    assert [m.path for m in report.moved] == [f"{NFC}/top.md"]
    assert tree(pair.root) == [
        NFD, on_disk(NFD, "a.md"), on_disk(NFD, "new.md"), on_disk(NFD, "sub"),
        on_disk(NFD, "sub", "deep.md"), on_disk(NFD, "top.md"),
    ]  # fmt: skip
    assert not (await pair.sync()).changed


@pytest.mark.parametrize("conflict", ["local", "remote"])
async def test_a_conflict_copy_lands_in_the_nfd_folder(pair: Pair, conflict: str) -> None:
    """Whichever version stays at the path, the other is kept beside it, in the same folder."""
    await pair.sync()
    (pair.root / NFD / "a.md").write_text("a, edited here")
    pair.put(f"{NFC}/a.md", b"a, edited there")
    report = await pair.sync(conflict=conflict)
    assert len(report.conflicts) == 1
    assert sorted(os.listdir(pair.root)) == sorted([NFD, "top.md"])
    (copy,) = [name for name in os.listdir(pair.root / NFD) if ".conflict-" in name]
    kept = {(pair.root / NFD / name).read_text() for name in ("a.md", copy)}
    assert kept == {"a, edited here", "a, edited there"}
    assert not (await pair.sync()).changed


async def test_a_restored_file_lands_in_the_nfd_folder(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    (root / NFD).mkdir(parents=True)
    (root / NFD / "a.md").write_text("a")
    (root / NFD / "b.md").write_text("b")
    await sync_project(root, remote.url, state_dir=state, remote=remote)
    del remote.objects[f"{NFC}/b.md"]  # another client deleted it
    await sync_project(root, remote.url, state_dir=state, remote=remote)
    assert tree(root) == [NFD, on_disk(NFD, "a.md")]
    result = await restore_file(root, remote.url, f"{NFC}/b.md", state_dir=state, remote=remote)
    assert result.restored_to == f"{NFC}/b.md"
    assert tree(root) == [NFD, on_disk(NFD, "a.md"), on_disk(NFD, "b.md")]


async def test_a_folder_marker_makes_its_folder_in_the_nfd_folder(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    (root / NFD).mkdir(parents=True)
    (root / NFD / "a.md").write_text("a")
    await sync_project(root, remote.url, state_dir=state, remote=remote, dir_markers=True)
    remote.put_bytes(f"{NFC}/empty/", b"")
    report = await sync_project(root, remote.url, state_dir=state, remote=remote, dir_markers=True)
    assert report.folders_created == [f"{NFC}/empty"]
    assert tree(root) == [NFD, on_disk(NFD, "a.md"), on_disk(NFD, "empty")]


# -- letter case: a rename by case alone on a case-insensitive folder is a move -------------
#
# Tried on a real case-insensitive file system when this machine can mount one (a vfat image,
# or an ext4 image with `casefold` and a folder with `chattr +F`, loop-mounted as root; else
# the vfat image through FUSE, `fusefat`), and
# always through the seam the Windows and macOS branches use on Linux: the folder's probe
# (`is_case_insensitive`) says yes for an ordinary folder (docs/platforms.md).


def _run(*command: str) -> str | None:
    """None when `command` succeeded, else what it said."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    said = (done.stderr or done.stdout).strip().splitlines()
    return None if done.returncode == 0 else (said[0] if said else f"exit {done.returncode}")


@dataclass(frozen=True)
class CaseInsensitiveFs:
    """One way to mount a case-insensitive file system from an image file."""

    kind: str
    make: tuple[str, ...]
    """The command that makes the file system in the image (the image's path follows)."""
    mount: tuple[str, ...]
    """The command that mounts it (image and mount point follow)."""
    unmount: tuple[str, ...]
    needs_casefold: bool = False
    """ext4's: the folder gets `chattr +F`, which only a kernel with CONFIG_UNICODE mounts."""

    def mounted(self, image: Path, mount: Path) -> str | None:
        """Make the file system in `image` and mount it at `mount`; None, or why not."""
        for command in (self.make, self.mount):
            if shutil.which(command[0]) is None:
                return f"{command[0]} is not installed"
        if self.needs_casefold and not Path("/sys/fs/ext4/features/casefold").exists():
            return "this kernel's ext4 cannot mount casefold (built without CONFIG_UNICODE)"
        with image.open("wb") as file:
            file.truncate(32 << 20)
        mount.mkdir(exist_ok=True)
        return _run(*self.make, str(image)) or _run(*self.mount, str(image), str(mount))


CASE_INSENSITIVE_FILE_SYSTEMS = (
    CaseInsensitiveFs("vfat", ("mkfs.vfat",), ("mount", "-o", "loop"), ("umount",)),
    CaseInsensitiveFs(
        "ext4 casefold",
        ("mkfs.ext4", "-q", "-F", "-O", "casefold"),
        ("mount", "-o", "loop"),
        ("umount",),
        needs_casefold=True,
    ),
    # FAT in user space (Debian's `fusefat`): for kernels without a vfat driver.
    CaseInsensitiveFs(
        "vfat through FUSE", ("mkfs.vfat",), ("fusefat", "-o", "rw+"), ("fusermount3", "-u")
    ),
)


@pytest.fixture
def mounted_case_insensitive_folder(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on a real case-insensitive file system, or a skip saying why none."""
    if os.geteuid() != 0:
        pytest.skip("mounting a case-insensitive file system image needs root")
    image, mount, why = tmp_path / "fs.img", tmp_path / "mnt", []
    for fs in CASE_INSENSITIVE_FILE_SYSTEMS:
        problem = fs.mounted(image, mount)
        folder = mount / "notes"
        if problem is None:
            folder.mkdir()
            if fs.needs_casefold:
                problem = _run("chattr", "+F", str(folder))
            if problem is None and not is_case_insensitive(folder):
                problem = "mounted, but the folder is case-sensitive"
            if problem is None:
                break
            _run(*fs.unmount, str(mount))
        why.append(f"{fs.kind}: {problem}")
    else:
        pytest.skip("no case-insensitive file system can be mounted here: " + "; ".join(why))
    try:
        yield folder
    finally:
        assert _run(*fs.unmount, str(mount)) is None, f"{mount} is still mounted"


@pytest.fixture(params=["seam", "mounted"])
def folder(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty case-insensitive project folder: a real one, or one the probe calls so."""
    if request.param == "mounted":
        path: Path = request.getfixturevalue("mounted_case_insensitive_folder")
        return path
    monkeypatch.setattr("bmsync.engine.gather.is_case_insensitive", lambda root: True)
    path = tmp_path / "notes"
    path.mkdir()
    return path


class CasePair:
    """`keep.md` keeps both sides from ever looking emptied (the empty-side guard)."""

    def __init__(self, root: Path, tmp_path: Path, s3_server: S3TestServer, bucket: str) -> None:
        self.root, self.state = root, tmp_path / "state"
        self.server, self.bucket, self.url = s3_server, bucket, f"s3://{bucket}/kb"
        (root / "keep.md").write_text("keep")

    async def sync(self) -> SyncReport:
        report = await sync_project(
            self.root, self.url, state_dir=self.state, s3=self.server.config
        )
        assert report.status == "ok" and not report.warnings, report.summary()
        return report

    def keys(self) -> list[str]:
        listed = self.server.client.list_objects_v2(Bucket=self.bucket, Prefix="kb/")
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture
def case_pair(folder: Path, tmp_path: Path, s3_server: S3TestServer, bucket: str) -> CasePair:
    return CasePair(folder, tmp_path, s3_server, bucket)


def moves(report: SyncReport) -> list[tuple[str, str, str]]:
    return [(m.path, m.old_path, m.side) for m in report.moved]


async def test_a_local_rename_by_letter_case_moves_the_key(case_pair: CasePair) -> None:
    (case_pair.root / "Note.md").write_text("note")
    await case_pair.sync()
    os.rename(case_pair.root / "Note.md", case_pair.root / "note.md")
    report = await case_pair.sync()
    assert moves(report) == [("note.md", "Note.md", "remote")], report.summary()
    assert case_pair.keys() == ["kb/keep.md", "kb/note.md"], "the old key stayed for ever"
    assert not (await case_pair.sync()).changed


async def test_a_remote_rename_by_letter_case_renames_the_local_file(
    case_pair: CasePair,
) -> None:
    (case_pair.root / "NOTE2.md").write_text("note 2")
    await case_pair.sync()
    client, bucket = case_pair.server.client, case_pair.bucket
    source = {"Bucket": bucket, "Key": "kb/NOTE2.md"}
    client.copy_object(Bucket=bucket, Key="kb/note2.md", CopySource=source)
    client.delete_object(Bucket=bucket, Key="kb/NOTE2.md")
    report = await case_pair.sync()
    assert moves(report) == [("note2.md", "NOTE2.md", "local")], report.summary()
    assert report.deleted_local == [] and report.downloaded == []
    assert sorted(os.listdir(case_pair.root)) == ["keep.md", "note2.md"]
    assert (case_pair.root / "note2.md").read_text() == "note 2"
    assert not (await case_pair.sync()).changed


def test_a_move_by_letter_case_on_the_real_file_system(
    mounted_case_insensitive_folder: Path,
) -> None:
    """The rename itself: the target is "there" (it is the source), and is renamed."""
    folder = mounted_case_insensitive_folder
    (folder / "Note.md").write_text("note")
    assert ops.move_without_replacing(folder / "Note.md", folder / "note.md")
    assert os.listdir(folder) == ["note.md"]


def test_hard_links_differing_by_case_are_not_moved_over_each_other(tmp_path: Path) -> None:
    """On a case-sensitive folder two names differing by case may be one file (hard links);
    the rename does nothing there, and the move says so rather than claim it moved."""
    (tmp_path / "Note.md").write_text("note")
    os.link(tmp_path / "Note.md", tmp_path / "note.md")
    assert not ops.move_without_replacing(tmp_path / "Note.md", tmp_path / "note.md")
    assert sorted(os.listdir(tmp_path)) == ["Note.md", "note.md"]


@pytest.mark.parametrize(
    ("group", "local", "remote", "known", "rename"),
    [
        (["Note.md", "note.md"], {"note.md"}, {"Note.md"}, {"Note.md"}, True),  # renamed here
        (["NOTE.md", "note.md"], {"NOTE.md"}, {"note.md"}, {"NOTE.md"}, True),  # renamed there
        (["Note.md", "note.md"], {"Note.md"}, {"Note.md", "note.md"}, {"Note.md"}, False),
        (["Note.md", "note.md"], {"Note.md"}, {"note.md"}, set(), False),  # both new: twins
        (["Note.md", "note.md"], {"Note.md"}, {"note.md"}, {"Note.md", "note.md"}, False),
        (["A/x.md", "a/x.md"], {"a/x.md"}, {"A/x.md"}, {"A/x.md"}, False),  # a folder's case
    ],
)
def test_which_twin_groups_are_renames(
    group: list[str], local: set[str], remote: set[str], known: set[str], rename: bool
) -> None:
    assert is_case_rename(group, local, remote, known) is rename
    assert (unsyncable_twins([group], local, remote, known) == {}) is rename


async def test_a_folder_renamed_by_letter_case_in_the_bucket_is_matched_not_moved(
    case_pair: CasePair,
) -> None:
    """A case-insensitive folder keeps the spelling it has (`Notes/`), as macOS and Windows
    do; its files are matched to the keys whatever case the bucket spells the folder in now:
    nothing moves, nothing is sent, nothing goes to a trash, and no second key appears."""
    (case_pair.root / "Notes").mkdir()
    (case_pair.root / "Notes" / "a.md").write_text("a")
    await case_pair.sync()
    client, bucket = case_pair.server.client, case_pair.bucket
    source = {"Bucket": bucket, "Key": "kb/Notes/a.md"}
    client.copy_object(Bucket=bucket, Key="kb/notes/a.md", CopySource=source)
    client.delete_object(Bucket=bucket, Key="kb/Notes/a.md")
    report = await case_pair.sync()
    assert report.uploaded == report.downloaded == report.deleted_local == [], report.summary()
    assert case_pair.keys() == ["kb/keep.md", "kb/notes/a.md"]
    assert sorted(os.listdir(case_pair.root)) == ["Notes", "keep.md"]
    assert not (await case_pair.sync()).changed


async def test_a_local_folder_renamed_by_letter_case_keeps_the_keys(case_pair: CasePair) -> None:
    """The other way round: the bucket keeps its spelling, and no second key appears."""
    (case_pair.root / "Notes").mkdir()
    (case_pair.root / "Notes" / "a.md").write_text("a")
    await case_pair.sync()
    try:
        os.rename(case_pair.root / "Notes", case_pair.root / "notes")
    except PermissionError:
        pytest.skip("this file system cannot rename a folder (fusefat)")
    report = await case_pair.sync()
    assert not report.changed, report.summary()
    assert case_pair.keys() == ["kb/Notes/a.md", "kb/keep.md"]


async def test_a_file_renamed_by_letter_case_in_a_folder_spelled_otherwise(
    case_pair: CasePair,
) -> None:
    """The bucket spells the folder `notes/`, the disk `Notes/`: a rename of the file by case
    in the bucket is still a local rename, and stays one."""
    (case_pair.root / "Notes").mkdir()
    (case_pair.root / "Notes" / "NOTE.md").write_text("n")
    await case_pair.sync()
    client, bucket = case_pair.server.client, case_pair.bucket
    source = {"Bucket": bucket, "Key": "kb/Notes/NOTE.md"}
    client.copy_object(Bucket=bucket, Key="kb/notes/note.md", CopySource=source)
    client.delete_object(Bucket=bucket, Key="kb/Notes/NOTE.md")
    report = await case_pair.sync()
    assert moves(report) == [("notes/note.md", "notes/NOTE.md", "local")], report.summary()
    assert case_pair.keys() == ["kb/keep.md", "kb/notes/note.md"]
    # In `Notes/` on a case-insensitive file system; through the seam, in a new `notes/`.
    (renamed,) = (p for p in case_pair.root.rglob("*.md") if p.name != "keep.md")
    assert renamed.name == "note.md" and renamed.read_text() == "n"
    assert not (await case_pair.sync()).changed


@pytest.mark.parametrize(
    ("group", "local", "remote", "matched"),
    [
        (
            ["Notes/a.md", "notes/a.md"],
            {"Notes/a.md"},
            {"notes/a.md"},
            {"Notes/a.md": "notes/a.md"},
        ),
        (["A/B/x.md", "a/b/X.md"], {"A/B/x.md"}, {"a/b/X.md"}, {"A/B/x.md": "a/b/x.md"}),
        (["Note.md", "note.md"], {"Note.md"}, {"note.md"}, {}),  # the name's case: a rename
        (["N/a.md", "n/a.md"], {"N/a.md"}, {"N/a.md", "n/a.md"}, {}),  # twin keys
        (["N/a.md", "n/a.md"], set(), {"N/a.md", "n/a.md"}, {}),
        (["S/d.md", "s/D.md", "s/d.md"], {"S/d.md"}, {"s/D.md", "s/d.md"}, {"S/d.md": "s/d.md"}),
        (["AB/x.md", "Ab/x.md", "ab/x.md"], {"Ab/x.md"}, {"AB/x.md", "ab/x.md"}, {}),  # which?
        (["A/d.md", "a/d.md", "a/D.md"], {"A/d.md"}, {"a/D.md"}, {"A/d.md": "a/d.md"}),
    ],
)
def test_which_local_files_take_the_buckets_folder_spelling(
    group: list[str], local: set[str], remote: set[str], matched: dict[str, str]
) -> None:
    assert folders_as_listed([group], local, remote) == matched
