"""The per-platform rules (docs/platforms.md), each branch tested here whatever the OS.

CI runs Linux; every choice that differs on Windows or macOS takes the platform (or its limit)
as a parameter, so the Windows branch of each rule runs here too: the names a Windows folder
cannot hold, Windows' path length, the retry of a rename Windows refuses while a file is open,
links Windows has and POSIX has not, the open without `O_NOFOLLOW`.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bmsync.failures import FileActionError
from bmsync.local.hashing import _same_file, hash_file, open_regular
from bmsync.local.ops import AtomicDownload, prepare_parent
from bmsync.local.trash import Trash
from bmsync.names import (
    MAX_NAME_BYTES,
    ON_WINDOWS,
    TEMP_PREFIX,
    path_problem,
    segment_problem,
    temp_name,
)
from bmsync.portable import (
    BUSY_RETRY_DELAYS,
    is_cross_device,
    is_link,
    make_private,
    path_length_problem,
    refusal,
    retry_while_busy,
    same_folder,
)
from bmsync.s3.keys import InvalidKey, relkey_to_path
from bmsync.state.paths import project_key
from bmsync.state.store import SqliteSnapshotStore

# -- names a Windows folder cannot hold ---------------------------------------------------------

WINDOWS_DEVICE_NAMES = [
    "CON", "con", "Con.md", "PRN.txt", "AUX", "aux.tar.gz", "NUL", "nul.md", "NUL .md",
    "COM1", "com9.md", "LPT1", "lpt5.txt", "COM\u00b9.md", "LPT\u00b3", "CONIN$", "conout$.md",
]  # fmt: skip
WINDOWS_RESERVED_CHARACTERS = [
    "a<b.md", "a>b.md", "a:b.md", "c:notes.md", "x.md:stream", '"quoted".md', "a|b.md",
    "Why?.md", "*.md",
]  # fmt: skip
WINDOWS_TRAILING = ["notes.", "notes ", "x.md.", "x.md ", "...", "a. ."]
WINDOWS_FINE = [
    "COM0.md", "COM10.md", "LPT.md", "CONSOLE.md", "console", "nul-notes.md", "xcon.md",
    "auxiliary.md", "con_x.md", " leading space.md", ".hidden", "a.b.c.md", "Meeting - Monday.md",
    "café.md", "日本語.md",
]  # fmt: skip


@pytest.mark.parametrize("name", WINDOWS_DEVICE_NAMES)
def test_windows_device_names_with_any_extension_are_refused_on_windows(name: str) -> None:
    problem = segment_problem(name, windows=True)
    assert problem is not None and "device name on Windows" in problem
    assert segment_problem(name, windows=False) is None


@pytest.mark.parametrize("name", WINDOWS_RESERVED_CHARACTERS)
def test_windows_reserved_characters_are_refused_on_windows(name: str) -> None:
    problem = segment_problem(name, windows=True)
    assert problem is not None and "a Windows folder cannot hold" in problem
    assert segment_problem(name, windows=False) is None


@pytest.mark.parametrize("name", WINDOWS_TRAILING)
def test_a_trailing_dot_or_space_is_refused_on_windows(name: str) -> None:
    problem = segment_problem(name, windows=True)
    assert problem is not None and "ends with a dot or a space" in problem
    assert segment_problem(name, windows=False) is None


@pytest.mark.parametrize("name", WINDOWS_FINE)
def test_names_windows_can_hold_are_synced_everywhere(name: str) -> None:
    assert segment_problem(name, windows=True) is None
    assert segment_problem(name, windows=False) is None


def test_the_rules_of_every_platform_still_apply_on_windows() -> None:
    for name in ("", ".", "..", "a\\b", "tab\there", "x" * (MAX_NAME_BYTES + 1)):
        assert segment_problem(name, windows=True) == segment_problem(name, windows=False)
        assert segment_problem(name, windows=True) is not None


def test_a_windows_name_anywhere_in_a_path_is_found() -> None:
    assert path_problem("notes/CON/x.md", windows=True) is not None
    assert path_problem("notes/a:b/x.md", windows=True) is not None
    assert path_problem("notes/x.md.", windows=True) is not None
    assert path_problem("notes/CON/x.md", windows=False) is None
    assert path_problem("notes/today/x.md", windows=True) is None


@pytest.mark.skipif(ON_WINDOWS, reason="the POSIX rule is this host's only off Windows")
def test_off_windows_the_host_rule_keeps_names_windows_cannot_hold() -> None:
    """Linux and macOS keep syncing `Why?.md`: only a Windows machine refuses it, locally and
    in its listing alike (one rule for both sides, as everywhere)."""
    for name in ("Why?.md", "Meeting: Monday.md", "CON.md", "notes."):
        assert segment_problem(name) is None
        assert relkey_to_path(f"notes/{name}") == f"notes/{name}"


def test_the_listing_and_the_scanner_share_the_windows_rule() -> None:
    """`relkey_to_path` (the listing) applies `path_problem` of the host, which is
    `segment_problem` of each segment: so on Windows a key `notes/CON.md` is rejected, never
    written, exactly as the scanner would skip a local `CON.md`."""
    for name in WINDOWS_DEVICE_NAMES + WINDOWS_RESERVED_CHARACTERS + WINDOWS_TRAILING:
        assert (segment_problem(name) is None) == (
            not isinstance(relkey_to_path(f"n/{name}"), InvalidKey)
        )


# -- the temporary name of a download ----------------------------------------------------------


def test_temp_name_carries_the_target_name() -> None:
    assert temp_name("x.md", "0123abcd") == f"{TEMP_PREFIX}0123abcd-x.md"


@pytest.mark.parametrize("char", ["x", "é", "日", "😀"])
def test_temp_name_of_the_longest_name_still_fits_a_name(char: str) -> None:
    width = len(char.encode())
    name = char * ((MAX_NAME_BYTES - 3) // width) + ".md"
    assert len(name.encode()) <= MAX_NAME_BYTES
    made = temp_name(name, "0123abcd")
    assert made.startswith(f"{TEMP_PREFIX}0123abcd-{char}")
    assert len(made.encode()) <= MAX_NAME_BYTES
    assert name.startswith(made.removeprefix(f"{TEMP_PREFIX}0123abcd-")), "cut at a character"


def test_download_of_a_name_of_255_bytes_of_multibyte_characters(tmp_path: Path) -> None:
    """The temporary name once overflowed NAME_MAX for such a name (ENAMETOOLONG)."""
    name = "日" * 84 + ".md"  # 255 bytes in UTF-8
    writer = AtomicDownload(tmp_path, f"notes/{name}")
    writer.sink.write(b"content")
    writer.commit_new(1_700_000_000_000_000_000)
    assert (tmp_path / "notes" / name).read_bytes() == b"content"


def test_download_keeps_every_byte(tmp_path: Path) -> None:
    """Windows' C runtime would turn `\\n` into `\\r\\n` and stop reading at Ctrl-Z in a
    descriptor opened without `O_BINARY`; every content `os.open` asks for binary."""
    data = b"line\nwindows\r\nctrl-z\x1a after\x00\xff"
    writer = AtomicDownload(tmp_path, "bytes.md")
    writer.sink.write(data)
    writer.commit_new(1_700_000_000_000_000_000)
    assert (tmp_path / "bytes.md").read_bytes() == data
    assert hash_file(tmp_path / "bytes.md")[1] == len(data)


# -- Windows' path length ----------------------------------------------------------------------


def test_no_path_limit_but_the_names_where_long_paths_work() -> None:
    assert path_length_problem("C:\\" + "x\\" * 5000, folder=False, max_path=None) is None


def test_a_file_path_may_have_259_characters_under_max_path() -> None:
    assert path_length_problem("x" * 259, folder=False, max_path=260) is None
    problem = path_length_problem("x" * 260, folder=False, max_path=260)
    assert problem == "the file path would be 260 characters, more than the 259 Windows allows"


def test_a_folder_path_must_leave_room_for_an_8_3_name() -> None:
    assert path_length_problem("x" * 247, folder=True, max_path=260) is None
    assert path_length_problem("x" * 248, folder=True, max_path=260) is not None


def test_path_length_counts_utf16_units() -> None:
    """NTFS counts UTF-16 code units: an emoji is two, an accented letter one."""
    assert path_length_problem("é" * 259, folder=False, max_path=260) is None
    assert path_length_problem("😀" * 130, folder=False, max_path=260) is not None


def test_a_download_too_long_for_windows_is_a_per_file_error_and_creates_nothing(
    tmp_path: Path,
) -> None:
    relpath = "deep/" + "n" * 40 + "/note.md"
    limit = len(str(tmp_path / relpath))  # one short of what the target needs
    with pytest.raises(FileActionError) as refused:
        AtomicDownload(tmp_path, relpath, max_path=limit)
    message = str(refused.value)
    assert message.startswith(f"{relpath}: cannot be written here: the file path would be")
    assert "enable long paths" in message and "shorter path" in message
    assert list(tmp_path.iterdir()) == [], "no folder, no temporary file"


def test_a_folder_too_long_for_windows_is_refused_before_it_is_made(tmp_path: Path) -> None:
    relpath = "f" * 30 + "/x.md"
    limit = len(str(tmp_path / relpath)) + 1  # the file fits; its folder has no room for 8.3
    with pytest.raises(FileActionError, match="the folder path would be"):
        prepare_parent(tmp_path, relpath, max_path=limit)
    assert list(tmp_path.iterdir()) == []


def test_near_the_limit_the_temporary_file_drops_the_target_name(tmp_path: Path) -> None:
    relpath = "a-rather-long-note-name-of-forty-letters.md"
    limit = len(str(tmp_path / relpath)) + 1  # the target fits, `.bmsync-tmp-<token>-<it>` not
    writer = AtomicDownload(tmp_path, relpath, max_path=limit)
    assert writer.temp.name.startswith(TEMP_PREFIX) and not writer.temp.name.endswith(".md")
    writer.sink.write(b"fits")
    writer.commit_new(1_700_000_000_000_000_000)
    assert (tmp_path / relpath).read_bytes() == b"fits"


def test_a_trash_path_too_long_for_windows_leaves_the_file_in_place(tmp_path: Path) -> None:
    note = tmp_path / "notes" / "x.md"
    note.parent.mkdir()
    note.write_text("kept")
    trash = Trash(tmp_path / "state" / "trash", "run", max_path=len(str(tmp_path)) + 20)
    for keep in (trash.keep_copy, trash.move_in):
        with pytest.raises(FileActionError, match="cannot be kept in the trash first") as refused:
            keep(note, "x.md")
        assert "--state-dir" in str(refused.value)
    assert note.read_text() == "kept"
    assert not (tmp_path / "state").exists()


@pytest.fixture
def other_volume(tmp_path: Path) -> Iterator[Path]:
    """A folder on another file system than `tmp_path` (a state folder on C:, notes on D:)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    with tempfile.TemporaryDirectory(dir=shm) as folder:
        yield Path(folder)


def test_the_trash_on_another_volume_copies(tmp_path: Path, other_volume: Path) -> None:
    note = tmp_path / "x.md"
    note.write_text("v1")
    trash = Trash(other_volume / "trash", "run")
    assert trash.keep_copy(note, "x.md").read_text() == "v1"
    assert note.read_text() == "v1"
    moved = trash.move_in(note, "x.md")
    assert moved.name == "x.md.2" and moved.read_text() == "v1"
    assert not note.exists()


# -- renames Windows refuses while a file is open ----------------------------------------------


def flaky(failures: int, error: OSError) -> tuple[Callable[[], str], list[int]]:
    """A call that fails `failures` times with `error`, then returns "done"."""
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "done"

    return call, calls


def test_on_windows_a_busy_file_is_tried_again_briefly() -> None:
    call, calls = flaky(2, PermissionError(errno.EACCES, "in use"))
    slept: list[float] = []
    assert retry_while_busy(call, windows=True, sleep=slept.append) == "done"
    assert len(calls) == 3 and slept == list(BUSY_RETRY_DELAYS[:2])


def test_on_windows_a_file_busy_for_long_is_given_up_after_about_a_second_and_a_half() -> None:
    call, calls = flaky(100, PermissionError(errno.EACCES, "in use"))
    slept: list[float] = []
    with pytest.raises(PermissionError):
        retry_while_busy(call, windows=True, sleep=slept.append)
    assert len(calls) == len(BUSY_RETRY_DELAYS) + 1
    assert 1 <= sum(slept) <= 2


def test_elsewhere_a_refusal_is_final() -> None:
    call, calls = flaky(1, PermissionError(errno.EACCES, "denied"))
    with pytest.raises(PermissionError):
        retry_while_busy(call, windows=False, sleep=pytest.fail)
    assert len(calls) == 1


def test_only_a_refusal_is_tried_again() -> None:
    call, calls = flaky(1, FileNotFoundError(errno.ENOENT, "gone"))
    with pytest.raises(FileNotFoundError):
        retry_while_busy(call, windows=True, sleep=lambda _: None)
    assert len(calls) == 1


def test_a_rename_across_volumes_is_recognised_on_every_platform() -> None:
    assert is_cross_device(OSError(errno.EXDEV, "Invalid cross-device link"))
    windows = OSError(errno.EACCES, "The system cannot move the file to a different disk drive")
    windows.winerror = 17  # type: ignore[attr-defined]  # what Windows' OSError carries
    assert is_cross_device(windows)
    assert not is_cross_device(OSError(errno.EACCES, "denied"))


def test_a_refusal_says_what_to_do() -> None:
    busy = PermissionError(errno.EACCES, "Access is denied")
    assert "close the program that has it open" in refusal(busy, windows=True)
    assert "read-only" in refusal(busy, windows=True)
    assert refusal(busy, windows=False) == "Access is denied"
    assert refusal(OSError(errno.EIO, "I/O error"), windows=True) == "I/O error"


# -- links, permissions, folder names -----------------------------------------------------------

JUNCTION, SYMLINK_TAG, ONEDRIVE_PLACEHOLDER = 0xA0000003, 0xA000000C, 0x9000001A


def test_a_junction_is_a_link_though_lstat_calls_it_a_folder() -> None:
    folder = stat.S_IFDIR | 0o755
    assert is_link(SimpleNamespace(st_mode=folder, st_reparse_tag=JUNCTION))  # type: ignore[arg-type]
    assert is_link(SimpleNamespace(st_mode=folder, st_reparse_tag=SYMLINK_TAG))  # type: ignore[arg-type]


def test_onedrive_files_on_demand_are_ordinary_files_and_folders() -> None:
    for mode in (stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644):
        info = SimpleNamespace(st_mode=mode, st_reparse_tag=ONEDRIVE_PLACEHOLDER)
        assert not is_link(info)  # type: ignore[arg-type]


def test_is_link_on_this_machine(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "folder")
    assert is_link(os.lstat(tmp_path / "link"))
    assert not is_link(os.lstat(tmp_path / "folder"))


def test_open_without_o_nofollow_still_refuses_a_link(tmp_path: Path) -> None:
    """Windows' branch: the name is `lstat`ed before the open, and the opened file must be
    the one seen there."""
    target = tmp_path / "target.md"
    target.write_bytes(b"outside")
    (tmp_path / "link.md").symlink_to(target)
    with open_regular(target, nofollow_flag=False) as handle:
        assert handle.read() == b"outside"
    with pytest.raises(OSError, match="symbolic link") as refused:
        open_regular(tmp_path / "link.md", nofollow_flag=False)
    assert refused.value.errno == errno.ELOOP


def test_file_ids_decide_only_where_the_file_system_has_them() -> None:
    def ids(seen: int, opened: int) -> bool:
        return _same_file(SimpleNamespace(st_ino=seen), SimpleNamespace(st_ino=opened))  # type: ignore[arg-type]

    assert ids(5, 5) and not ids(5, 6)
    assert ids(0, 6) and ids(5, 0), "no file ids (a network share): the lstat check alone"


def test_open_without_o_nofollow_still_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="no longer a regular file"):
        open_regular(tmp_path / "pipe", nofollow_flag=False)


def test_mode_bits_are_set_off_windows_and_left_alone_on_it(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    make_private(folder, 0o700, windows=True)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    make_private(folder, 0o700, windows=False)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_windows_folder_is_the_same_whatever_its_case_or_slashes() -> None:
    assert same_folder("C:\\Users\\Ann\\Notes", "c:/users/ann/notes", windows=True)
    assert not same_folder("C:\\Users\\Ann\\Notes", "C:\\Users\\Ann\\Other", windows=True)
    assert not same_folder("/home/ann/Notes", "/home/ann/notes", windows=False)
    assert same_folder("/home/ann/notes", "/home/ann/notes", windows=False)


def test_a_state_folder_name_windows_reserves_gets_an_underscore_there_only() -> None:
    url = "s3://bucket/con.notes"
    assert project_key(url, windows=True) == "_" + project_key(url, windows=False)
    assert project_key(url, windows=False).startswith("con.notes-")
    assert project_key("s3://bucket/notes", windows=True) == project_key(
        "s3://bucket/notes", windows=False
    )


async def test_a_snapshot_path_with_url_characters_opens(tmp_path: Path) -> None:
    """The SQLite URL is built, not parsed: `?` and `#` in a folder name stay in the path."""
    db = tmp_path / "what?#x" / "snapshot.db"
    db.parent.mkdir()
    store = await SqliteSnapshotStore.open(db, local_root="/notes", remote_url="s3://b/n")
    await store.close()
    assert db.is_file() and not (tmp_path / "what").exists()
