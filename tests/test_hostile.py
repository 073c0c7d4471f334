"""Hostile and odd input: a clear message, nothing lost, nothing written outside the folder.

Each test sets up one kind of trouble beside ordinary files and checks four things: the trouble
is reported (`warnings` for what is skipped on purpose, `errors` for a file that failed, a
`bmsync.errors` type for a run that cannot start), no version of any file is lost, nothing is
written outside the project folder, and the ordinary files still sync.

Remote keys need a real listing (the S3 layer is what rejects a key), so those tests run
against moto_server and `rclone serve s3`; local trouble uses the in-memory remote. Cases that
need a process of their own (no read permission even for root, a file size limit standing in
for a full disk) run one sync in a child process (`sync_in_child`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import bmsync.engine.gather as engine_sync
from bmsync import StateCorruptError, StateTooNewError, SyncReport, sync_project
from bmsync.local.hashing import hash_file
from bmsync.names import TEMP_PREFIX, segment_problem
from bmsync.ports import LocalSource
from bmsync.s3.keys import InvalidKey, relkey_to_path
from bmsync.s3.remote import open_remote
from bmsync.testing import MemoryRemote
from tests.servers import S3TestServer

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
PREFIX = "research"
MEMORY_URL = "s3://memory/project"
REPO = Path(__file__).resolve().parents[1]


# -- the scene: a sandbox holding only the project folder, and a folder outside it ----------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """Holds the project folder and nothing else, before and after each test: a `../x` that
    escaped the folder would land here."""
    path = tmp_path / "sandbox"
    (path / "notes").mkdir(parents=True)
    yield path
    assert sorted(os.listdir(path)) == ["notes"], "something was written beside the folder"


@pytest.fixture
def root(sandbox: Path) -> Iterator[Path]:
    path = sandbox / "notes"
    yield path
    assert not temp_files(path), "a .bmsync-tmp-* file outlived the run"


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A folder outside the project, with a file and a sub-folder; it must end as it began."""
    path = tmp_path / "outside"
    write(path, "secret.md", "outside secret")
    write(path, "dir/inner.md", "outside inner")
    before = files_under(path)
    yield path
    assert files_under(path) == before, "a file outside the project was changed"
    assert not temp_files(path)


def write(root: Path, rel: str, data: str | bytes, mtime_ns: int | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def files_under(folder: Path) -> dict[str, bytes]:
    """Regular files below `folder`, never looking through a symlink."""
    found: dict[str, bytes] = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode) and not name.startswith(TEMP_PREFIX):
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def temp_files(folder: Path) -> list[str]:
    return [
        os.path.join(d, n) for d, _, names in os.walk(folder) for n in names if TEMP_PREFIX in n
    ]


def memory_tree(remote: MemoryRemote) -> dict[str, bytes]:
    return remote.contents()


def warned(report: SyncReport) -> dict[str, str]:
    return {w.path: w.message for w in report.warnings}


def failed(report: SyncReport) -> dict[str, str]:
    return {e.path: e.message for e in report.errors}


async def sync(root: Path, state: Path, remote: Any, **kw: Any) -> SyncReport:
    kw.setdefault("now", NOW)
    return await sync_project(root, MEMORY_URL, state_dir=state, remote=remote, **kw)


class Hooked:
    """A `RemoteStore` that lets the user act just before one transfer: the file is edited or
    deleted after the engine's own checks and before the bytes move."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.before_upload: dict[str, Callable[[], None]] = {}
        self.before_download: dict[str, Callable[[], None]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def upload(self, relkey: str, source: LocalSource, **kw: Any) -> Any:
        if (hook := self.before_upload.pop(relkey, None)) is not None:
            hook()
        return await self.inner.upload(relkey, source, **kw)

    async def download(self, relkey: str, sink: Any, **kw: Any) -> Any:
        if (hook := self.before_download.pop(relkey, None)) is not None:
            hook()
        return await self.inner.download(relkey, sink, **kw)


@pytest.fixture
def after_scan(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """Run `action` once, right after the engine's local scan returns: the user changing the
    folder while the run plans and executes."""

    def install(action: Callable[[], None]) -> None:
        real = engine_sync.scan_local
        pending = [action]

        def scan_then_act(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            while pending:
                pending.pop()()
            return result

        monkeypatch.setattr(engine_sync, "scan_local", scan_then_act)

    return install


# -- a sync in a child process: privileges and limits the test process must keep ------------

CHILD = """
import asyncio, ctypes, os, pickle, resource, sys

mode, job_path, out_path = sys.argv[1:4]
if mode == "no-dac" and os.geteuid() == 0 and os.environ.get("BMSYNC_TEST_DAC") != "dropped":
    # root reads anything through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: drop both from the
    # bounding set and exec again, so chmod 000 means what it means for everyone else.
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    os.environ["BMSYNC_TEST_DAC"] = "dropped"
    os.execv(sys.executable, [sys.executable, *sys.argv])
from bmsync import S3Config, sync_project
with open(job_path, "rb") as handle:
    job = pickle.load(handle)
if "s3" in job:
    job["s3"] = S3Config(**job["s3"])
limit = resource.getrlimit(resource.RLIMIT_FSIZE)
if mode.startswith("fsize="):
    # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(mode[6:]), limit[1]))
report = asyncio.run(sync_project(**job))
resource.setrlimit(resource.RLIMIT_FSIZE, limit)
with open(out_path, "wb") as handle:
    pickle.dump((report.to_dict(), job.get("remote")), handle)
"""


def sync_in_child(tmp_path: Path, mode: str, **job: Any) -> tuple[dict[str, Any], Any]:
    """Run one `sync_project(**job)` in a child process; `mode` is "no-dac" (root without its
    read-anything capabilities) or "fsize=N" (writes past N bytes fail). Returns the report as a
    dict and the in-memory remote as the child left it (None for a real server)."""
    script, job_path, out_path = (tmp_path / n for n in ("child.py", "job.pkl", "out.pkl"))
    script.write_text(CHILD)
    job.setdefault("now", NOW)
    if "s3" in job:  # its headers are a mappingproxy, which does not pickle
        job["s3"] = {f.name: getattr(job["s3"], f.name) for f in fields(job["s3"])}
        del job["s3"]["headers"]
    job_path.write_bytes(pickle.dumps(job))
    done = subprocess.run(
        [sys.executable, str(script), mode, str(job_path), str(out_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: tuple[dict[str, Any], Any] = pickle.loads(out_path.read_bytes())
    return result


# -- real S3 servers -------------------------------------------------------------------------


class Bucket:
    """The prefix seen from outside bmsync, straight to the server."""

    def __init__(self, server: S3TestServer, bucket: str) -> None:
        self.client, self.bucket, self.config = server.client, bucket, server.config
        self.url = f"s3://{bucket}/{PREFIX}"

    def put(self, relkey: str, data: str | bytes) -> None:
        body = data.encode() if isinstance(data, str) else data
        self.client.put_object(Bucket=self.bucket, Key=f"{PREFIX}/{relkey}", Body=body)

    def tree(self) -> dict[str, bytes]:
        """Every object of the bucket, trash included, by full key."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        return {k: self.client.get_object(Bucket=self.bucket, Key=k)["Body"].read() for k in keys}

    def synced(self) -> dict[str, bytes]:
        return {k: v for k, v in self.tree().items() if k.startswith(PREFIX + "/")}

    async def sync(self, root: Path, state: Path, **kw: Any) -> SyncReport:
        kw.setdefault("now", NOW)
        return await sync_project(root, self.url, s3=self.config, state_dir=state, **kw)


@pytest.fixture
def remote_bucket(s3_server: S3TestServer, bucket: str) -> Bucket:
    return Bucket(s3_server, bucket)


async def assert_skipped_and_kept(
    remote: Bucket, root: Path, state: Path, hostile: dict[str, bytes]
) -> None:
    """Sync `hostile` keys beside one ordinary file each way: every hostile key is a warning,
    stays on the remote untouched, and the ordinary files sync; a second run agrees."""
    for relkey, data in hostile.items():
        remote.put(relkey, data)
    remote.put("ok.md", "remote ok")
    write(root, "local.md", "local")
    before = remote.tree()
    report = await remote.sync(root, state)
    assert report.status == "ok", report.errors
    assert set(warned(report)) == {f"{PREFIX}/{k}" for k in hostile}, report.warnings
    assert report.downloaded == ["ok.md"] and report.uploaded == ["local.md"]
    assert files_under(root) == {"ok.md": b"remote ok", "local.md": b"local"}
    assert remote.tree() == {**before, f"{PREFIX}/local.md": b"local"}
    again = await remote.sync(root, state)
    assert again.status == "ok" and not again.changed and len(again.warnings) == len(hostile)


# -- remote keys -----------------------------------------------------------------------------


async def test_keys_both_servers_store_but_no_folder_can_hold_are_skipped(
    remote_bucket: Bucket, root: Path, state: Path
) -> None:
    """A backslash (a separator on Windows, and `..\\` smuggled past a `/` check) and NUL (no
    file system allows it: the "name invalid for the local file system" case)."""
    hostile = {"back\\slash.md": b"bs", "nul\x00byte.md": b"nul", "..\\up.md": b"up"}
    await assert_skipped_and_kept(remote_bucket, root, state, hostile)


RCLONE_REFUSES = (
    "rclone's server refuses '..', '.' and empty segments and maps control characters to other"
    " code points; a key with '\\n' moto cannot store"
)


@pytest.mark.moto_only(RCLONE_REFUSES)
async def test_keys_that_would_leave_the_folder_are_skipped(
    remote_bucket: Bucket, root: Path, state: Path
) -> None:
    absolute = f"/bmsync-hostile-{uuid.uuid4().hex}.md"
    hostile = {
        "../escape.md": b"dotdot",
        "sub/../../escape2.md": b"dotdot inside",
        "./dot.md": b"dot",
        absolute: b"leading slash: p//x",
        "dir//double.md": b"empty segment",
        "ctrl\x01.md": b"control",
        "tab\t.md": b"tab",
        "del\x7f.md": b"delete char",
        "e" * 300 + ".md": b"300-byte segment",
    }
    await assert_skipped_and_kept(remote_bucket, root, state, hostile)
    assert not os.path.lexists(absolute), "a leading-slash key was written at the file system root"


async def test_nfc_and_nfd_twin_keys_keep_one_and_report_the_other(
    remote_bucket: Bucket, root: Path, state: Path
) -> None:
    nfc, nfd = (unicodedata.normalize(form, "café.md") for form in ("NFC", "NFD"))
    remote_bucket.put(nfc, "nfc version")
    remote_bucket.put(nfd, "nfd version")
    report = await remote_bucket.sync(root, state)
    assert report.status == "ok" and report.downloaded == [nfc]
    assert "normalisation" in warned(report)[f"{PREFIX}/{nfd}"]
    assert files_under(root) == {nfc: b"nfc version"}
    write(root, nfc, "edited locally")
    assert (await remote_bucket.sync(root, state)).uploaded == [nfc]
    assert remote_bucket.synced() == {
        f"{PREFIX}/{nfc}": b"edited locally",
        f"{PREFIX}/{nfd}": b"nfd version",
    }, "the edit went to the NFC key only; the NFD twin was never touched"


async def test_case_twin_keys_are_reported(
    remote_bucket: Bucket, root: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a case-insensitive folder `Note.md` and `note.md` are one file: the second download
    would replace the first. Linux folders are case-sensitive, so the probe is told otherwise."""
    monkeypatch.setattr("bmsync.engine.gather.is_case_insensitive", lambda root: True)
    remote_bucket.put("Note.md", "upper")
    remote_bucket.put("note.md", "lower")
    report = await remote_bucket.sync(root, state)
    assert any("case" in message for message in warned(report).values()), report.warnings
    assert {b"upper", b"lower"} <= set(remote_bucket.synced().values())


@pytest.mark.moto_only("rclone's server maps keys to files, so it cannot hold `a` and `a/b.md`")
async def test_file_and_folder_with_one_name(
    remote_bucket: Bucket, root: Path, state: Path
) -> None:
    remote_bucket.put("a", "file a")
    remote_bucket.put("a/b.md", "file b")
    remote_bucket.put("ok.md", "ok")
    before = remote_bucket.tree()
    for _ in range(2):
        report = await remote_bucket.sync(root, state)
        (clash,) = failed(report)
        assert clash in {"a", "a/b.md"}
        assert (
            "in the way" in failed(report)[clash] or "folder has this name" in failed(report)[clash]
        )
        assert not report.deleted_local and not report.deleted_remote
        assert remote_bucket.tree() == before
    kept = "a/b.md" if clash == "a" else "a"
    assert files_under(root) == {kept: before[f"{PREFIX}/{kept}"], "ok.md": b"ok"}


# -- local trouble ---------------------------------------------------------------------------


async def test_symlinks_are_reported_never_followed_nor_written_through(
    root: Path, state: Path, outside: Path
) -> None:
    (root / "link.md").symlink_to(outside / "secret.md")
    (root / "linkdir").symlink_to(outside / "dir")
    write(root, "local.md", "local")
    remote = MemoryRemote()
    remote.put_bytes("link.md", b"remote version of link.md")
    remote.put_bytes("linkdir/inner.md", b"remote inner")
    remote.put_bytes("linkdir/new.md", b"remote new")
    remote.put_bytes("ok.md", b"ok")
    before = memory_tree(remote)
    for _ in range(2):
        report = await sync(root, state, remote)
        assert "symbolic link" in warned(report)["link.md"]
        assert "symbolic link" in warned(report)["linkdir"]
        for path in ("linkdir/inner.md", "linkdir/new.md"):
            message = failed(report).get(path) or warned(report).get(path, "")
            assert "symbolic link" in message or "skipped" in message, path
        assert not report.deleted_local and not report.deleted_remote
    assert memory_tree(remote) == {**before, "local.md": b"local"}
    assert files_under(root) == {"local.md": b"local", "ok.md": b"ok"}
    assert os.readlink(root / "link.md") == str(outside / "secret.md")


async def test_folder_replaced_by_a_symlink_loses_nothing_on_either_side(
    root: Path, state: Path, outside: Path
) -> None:
    """`sub/` synced, then replaced by a link to a folder outside: its files must not look
    deleted (their remote copies would go) and remote edits must not be written through it."""
    write(root, "sub/x.md", "x")
    write(root, "sub/y.md", "y")
    remote = MemoryRemote()
    await sync(root, state, remote)
    for name in ("x.md", "y.md"):
        (root / "sub" / name).unlink()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(outside / "dir")
    remote.put_bytes("sub/x.md", b"x edited remotely")
    remote.put_bytes("sub/new.md", b"new remotely")
    report = await sync(root, state, remote)
    assert "symbolic link" in warned(report)["sub"]
    assert {"sub/x.md", "sub/y.md"} <= set(warned(report))
    assert "symbolic link" in (failed(report).get("sub/new.md") or warned(report)["sub/new.md"])
    assert not report.deleted_remote and not report.deleted_local
    assert memory_tree(remote) == {
        "sub/x.md": b"x edited remotely",
        "sub/y.md": b"y",
        "sub/new.md": b"new remotely",
    }


async def test_folder_swapped_for_a_symlink_after_the_scan(
    root: Path, state: Path, tmp_path: Path, after_scan: Any
) -> None:
    """The race version: the plan deletes `sub/x.md` and overwrites `sub/y.md`, then `sub`
    moves outside and a link takes its place. The same files are now reachable through the
    link, same size, time and bytes: only refusing to act through a link saves them."""
    write(root, "sub/x.md", "x")
    write(root, "sub/y.md", "y")
    remote = MemoryRemote()
    await sync(root, state, remote)
    del remote.objects["sub/x.md"]
    remote.put_bytes("sub/y.md", b"y edited remotely")
    moved = tmp_path / "moved-sub"

    def swap() -> None:
        os.rename(root / "sub", moved)
        (root / "sub").symlink_to(moved)

    after_scan(swap)
    report = await sync(root, state, remote)
    assert set(failed(report)) == {"sub/x.md", "sub/y.md"}
    assert all("symbolic link" in m for m in failed(report).values()), report.errors
    assert files_under(moved) == {"x.md": b"x", "y.md": b"y"}
    assert not list(state.rglob("trash/*/sub/*")), "nothing was taken through the link"


@contextlib.contextmanager
def fifo_watchdog(fifo: Path, seconds: float = 20) -> Iterator[threading.Event]:
    """A reader blocked opening `fifo` would hang the test run: if one still waits after
    `seconds`, open the other end so it gets EOF, and set the event the test then checks."""
    hung = threading.Event()

    def release() -> None:
        hung.set()
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    watchdog = threading.Timer(seconds, release)
    watchdog.start()
    try:
        yield hung
    finally:
        watchdog.cancel()


async def test_fifo_socket_and_device_are_skipped_without_hanging(root: Path, state: Path) -> None:
    os.mkfifo(root / "pipe.md")
    specials = ["pipe.md"]
    with socket.socket(socket.AF_UNIX) as sock:
        if len(str(root / "sock.md")) < 100:
            sock.bind(str(root / "sock.md"))
            specials.append("sock.md")
        try:
            os.mknod(root / "null.md", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
            specials.append("null.md")
        except PermissionError:
            pass  # not root, or a container without CAP_MKNOD: the FIFO and socket remain
        write(root, "local.md", "local")
        remote = MemoryRemote()
        remote.put_bytes("pipe.md", b"remote object at the FIFO's path")
        with fifo_watchdog(root / "pipe.md") as hung:
            report = await sync(root, state, remote)
    assert not hung.is_set(), "the run blocked on the FIFO"
    assert all("not a regular file" in warned(report)[p] for p in specials), report.warnings
    assert report.uploaded == ["local.md"] and report.downloaded == [] and not report.errors
    assert stat.S_ISFIFO(os.lstat(root / "pipe.md").st_mode), "the FIFO was not replaced"
    assert remote.objects["pipe.md"].data == b"remote object at the FIFO's path"


def test_hashing_never_blocks_on_a_fifo_nor_follows_a_link(tmp_path: Path) -> None:
    """A regular file can turn into a FIFO or a link between the scan's stat and its read."""
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(write(tmp_path, "target.md", "t"))
    with (
        fifo_watchdog(tmp_path / "pipe", seconds=5) as hung,
        pytest.raises(OSError, match="no longer a regular file"),
    ):
        hash_file(tmp_path / "pipe")
    assert not hung.is_set(), "hashing blocked opening the FIFO"
    with pytest.raises(OSError, match="symbolic link") as raised:
        hash_file(tmp_path / "link")
    assert raised.value.errno == errno.ELOOP


async def test_unreadable_file_and_folder_are_left_alone(
    root: Path, state: Path, tmp_path: Path
) -> None:
    """chmod 000, with the sync in a child process that cannot bypass it even as root. The
    unreadable edit is not uploaded, and nothing it hides looks deleted."""
    write(root, "secret.md", "v1")
    write(root, "private/p.md", "p")
    write(root, "ok.md", "ok")
    remote = MemoryRemote()
    await sync(root, state, remote)
    write(root, "secret.md", "v2, unreadable")
    write(root, "new-secret.md", "new, unreadable")
    remote.put_bytes("remote-new.md", b"r")
    locked = [root / "secret.md", root / "new-secret.md", root / "private"]
    for path in locked:
        path.chmod(0)
    try:
        report, remote = sync_in_child(
            tmp_path, "no-dac", local_path=root, remote_url=MEMORY_URL, state_dir=state,
            remote=remote,
        )  # fmt: skip
    finally:
        for path in locked:
            path.chmod(0o700 if path.name == "private" else 0o600)
    warnings = {w["path"]: w["message"] for w in report["warnings"]}
    assert "cannot read" in warnings["secret.md"] and "cannot read" in warnings["new-secret.md"]
    assert "cannot list folder" in warnings["private"] and "private/p.md" in warnings
    assert report["status"] == "ok" and report["downloaded"] == ["remote-new.md"]
    assert report["uploaded"] == [] and report["deleted_remote"] == []
    assert memory_tree(remote) == {
        "secret.md": b"v1",
        "private/p.md": b"p",
        "ok.md": b"ok",
        "remote-new.md": b"r",
    }
    readable = await sync(root, state, remote)
    assert readable.uploaded == ["new-secret.md", "secret.md"] and not readable.deleted_remote
    assert memory_tree(remote)["secret.md"] == b"v2, unreadable"


async def test_local_names_the_remote_side_cannot_hold_are_skipped(root: Path, state: Path) -> None:
    """Linux allows any bytes but `/` and NUL in a name. A name the listing would refuse must
    not be uploaded: next run it would be missing remotely, look deleted there, and be deleted
    here. A name that is not UTF-8 cannot even be sent (it used to crash the run)."""
    bad = ["back\\slash.md", "ctrl\x01.md", "new\nline.md", "bad-dir\x02"]
    for name in bad[:-1]:
        write(root, name, name)
    write(root, bad[-1] + "/inside.md", "inside a badly named folder")
    raw = os.path.join(os.fsencode(root), b"latin1-\xe9t\xe9.md")
    with open(raw, "wb") as handle:
        handle.write(b"not utf-8")
    write(root, "ok.md", "ok")
    remote = MemoryRemote()
    before = files_under(root)
    for _ in range(2):
        report = await sync(root, state, remote)
        assert report.status == "ok" and not report.deleted_local
        assert set(warned(report)) == {*bad, os.fsdecode(b"latin1-\xe9t\xe9.md")}
        assert "UTF-8" in warned(report)[os.fsdecode(b"latin1-\xe9t\xe9.md")]
        assert "backslash" in warned(report)["back\\slash.md"]
    assert memory_tree(remote) == {"ok.md": b"ok"} and files_under(root) == before


@pytest.mark.parametrize(
    "name",
    ["a.md", "a\\b", "c\x01", "d\x7f", "tab\t", "é" * 127 + "x", "é" * 128, "日本語.md", "e" * 255,
     "e" * 256, unicodedata.normalize("NFD", "é" * 127 + "x")],
)  # fmt: skip
def test_local_name_rule_agrees_with_remote_key_rule(name: str) -> None:
    """The scanner's rule (`name_problem`) and the listing's (`relkey_to_path`) must accept the
    same single names, or a file syncs up and then looks deleted."""
    assert (segment_problem(name) is None) == (not isinstance(relkey_to_path(name), InvalidKey))


# -- edits during a run ----------------------------------------------------------------------


async def test_file_deleted_between_scan_and_upload(
    root: Path, state: Path, after_scan: Any
) -> None:
    write(root, "gone-early.md", "deleted after the scan")
    write(root, "gone-late.md", "deleted as its upload starts")
    write(root, "kept.md", "kept")
    inner = MemoryRemote()
    remote = Hooked(inner)
    remote.before_upload["gone-late.md"] = (root / "gone-late.md").unlink
    after_scan((root / "gone-early.md").unlink)
    report = await sync(root, state, remote)
    assert report.uploaded == ["kept.md"]
    assert set(failed(report)) == {"gone-early.md", "gone-late.md"}
    assert "deleted locally during the sync" in failed(report)["gone-early.md"]
    assert memory_tree(inner) == {"kept.md": b"kept"}
    again = await sync(root, state, remote)
    assert again.status == "ok" and not again.changed


async def test_file_edited_during_upload_is_not_stored_and_goes_next_run(
    remote_bucket: Bucket, root: Path, state: Path
) -> None:
    """Edited (same size) after the engine's check, while the upload reads it: the stored
    object would carry the old content's hash."""
    write(root, "a.md", "first")
    write(root, "b.md", "b")
    async with open_remote(remote_bucket.url, remote_bucket.config) as opened:
        hooked = Hooked(opened)
        hooked.before_upload["a.md"] = lambda: write(root, "a.md", "FIRST")
        report = await sync_project(
            root, remote_bucket.url, state_dir=state, remote=hooked, now=NOW
        )
    assert report.uploaded == ["b.md"] and set(failed(report)) == {"a.md"}
    assert remote_bucket.synced() == {f"{PREFIX}/b.md": b"b"}
    again = await remote_bucket.sync(root, state)
    assert again.uploaded == ["a.md"] and not again.conflicts
    assert remote_bucket.synced()[f"{PREFIX}/a.md"] == b"FIRST"


EDITS = {
    "resized": lambda path, _ns: path.write_text("edited locally, longer"),
    # Same size, mtime put back: what a 2 s timestamp or `cp -p` shows. Only the hash sees it.
    "same-size-and-mtime": lambda path, ns: (path.write_text("ONE"), os.utime(path, ns=(ns, ns))),
}


@pytest.mark.parametrize("edit", EDITS)
async def test_file_edited_between_scan_and_download_is_not_overwritten(
    root: Path, state: Path, edit: str
) -> None:
    path = write(root, "a.md", "one", mtime_ns=1_700_000_000_000_000_000)
    inner = MemoryRemote()
    await sync(root, state, inner)
    inner.put_bytes("a.md", b"remote two", mtime_ns=1_800_000_000_000_000_000)
    remote = Hooked(inner)
    remote.before_download["a.md"] = lambda: EDITS[edit](path, 1_700_000_000_000_000_000)
    report = await sync(root, state, remote)
    edited = path.read_bytes()
    assert "modified locally during the sync" in failed(report)["a.md"]
    assert edited != b"one" and files_under(root) == {"a.md": edited}
    assert memory_tree(inner) == {"a.md": b"remote two"}
    assert not list(state.rglob("trash/*/a.md")), "nothing was replaced, so nothing kept"
    if edit == "resized":
        report = await sync(root, state, inner)
        assert [c.path for c in report.conflicts] == ["a.md"]
        assert (
            set(files_under(root).values())
            == set(memory_tree(inner).values())
            == {
                edited,
                b"remote two",
            }
        )


@pytest.mark.parametrize("edit", EDITS)
async def test_file_edited_between_scan_and_delete_is_not_deleted(
    root: Path, state: Path, after_scan: Any, edit: str
) -> None:
    path = write(root, "a.md", "one", mtime_ns=1_700_000_000_000_000_000)
    write(root, "b.md", "b")
    remote = MemoryRemote()
    await sync(root, state, remote)
    del remote.objects["a.md"]
    after_scan(lambda: EDITS[edit](path, 1_700_000_000_000_000_000))
    report = await sync(root, state, remote)
    assert "modified locally during the sync" in failed(report)["a.md"]
    edited = path.read_bytes()
    assert edited != b"one" and not report.deleted_local
    if edit == "resized":
        again = await sync(root, state, remote)
        assert again.uploaded == ["a.md"] and memory_tree(remote)["a.md"] == edited


async def test_edit_keeping_size_and_mtime_is_synced_on_the_next_run(
    root: Path, state: Path, after_scan: Any
) -> None:
    """The re-check refuses the overwrite; the next scan sees the moved ctime, re-reads the
    file, and the two edits meet as a conflict (both kept)."""
    path = write(root, "a.md", "one", mtime_ns=1_700_000_000_000_000_000)
    remote = MemoryRemote()
    await sync(root, state, remote)
    remote.put_bytes("a.md", b"remote two", mtime_ns=1_800_000_000_000_000_000)
    after_scan(lambda: EDITS["same-size-and-mtime"](path, 1_700_000_000_000_000_000))
    assert "a.md" in failed(await sync(root, state, remote))
    report = await sync(root, state, remote)
    assert [c.path for c in report.conflicts] == ["a.md"], report.errors


# -- a disk that fills up ------------------------------------------------------------------


async def test_disk_full_during_download_keeps_the_old_version(
    remote_bucket: Bucket, root: Path, state: Path, tmp_path: Path
) -> None:
    """RLIMIT_FSIZE stands in for a full disk: past 256 KiB every write fails (EFBIG), the way
    ENOSPC does, and the snapshot (a few KiB) still fits."""
    write(root, "big.bin", "old version")
    await remote_bucket.sync(root, state)
    big = os.urandom(1 << 20)
    remote_bucket.put("big.bin", big)
    remote_bucket.put("small.md", "small")
    write(root, "local.md", "local")
    report, _ = sync_in_child(
        tmp_path, f"fsize={256 << 10}", local_path=root, remote_url=remote_bucket.url,
        state_dir=state, s3=remote_bucket.config,
    )  # fmt: skip
    errors = {e["path"]: e["message"] for e in report["errors"]}
    assert set(errors) == {"big.bin"} and "could not write the download" in errors["big.bin"]
    assert report["downloaded"] == ["small.md"] and report["uploaded"] == ["local.md"]
    assert files_under(root) == {
        "big.bin": b"old version",
        "small.md": b"small",
        "local.md": b"local",
    }
    assert not list(state.rglob("trash/*/big.bin")), "nothing was replaced, so nothing kept"
    again = await remote_bucket.sync(root, state)
    assert again.downloaded == ["big.bin"] and (root / "big.bin").read_bytes() == big


# -- the snapshot --------------------------------------------------------------------------


def _snapshot(state: Path) -> Path:
    (db,) = state.rglob("snapshot.db")
    return db


def _damage(db: Path, how: str) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    data = db.read_bytes()
    db.write_bytes(b"\x00garbage\xff" * 500 if how == "garbage" else data[: len(data) // 2])


async def _diverged(root: Path, state: Path) -> MemoryRemote:
    """A synced project, then changes that a run with the snapshot would turn into deletes."""
    for i in range(60):
        write(root, f"n/{i:02d}.md", f"note {i}\n" * 20)
    write(root, "edited.md", "base")
    remote = MemoryRemote()
    await sync(root, state, remote)
    (root / "n" / "00.md").unlink()
    del remote.objects["n/01.md"]
    remote.put_bytes("edited.md", b"remote edit")
    write(root, "new.md", "new")
    return remote


@pytest.mark.parametrize("how", ["garbage", "truncated"])
async def test_damaged_snapshot_stops_the_run_and_resync_recovers(
    root: Path, state: Path, how: str
) -> None:
    remote = await _diverged(root, state)
    _damage(_snapshot(state), how)
    local_before, remote_before = files_under(root), memory_tree(remote)
    with pytest.raises(StateCorruptError, match="--resync"):
        await sync(root, state, remote)
    assert files_under(root) == local_before and memory_tree(remote) == remote_before
    report = await sync(root, state, remote, resync=True)
    assert report.status == "ok" and not report.deleted_local and not report.deleted_remote
    assert report.downloaded == ["n/00.md"] and report.uploaded == ["n/01.md", "new.md"]
    assert [c.path for c in report.conflicts] == ["edited.md"]
    assert files_under(root) == memory_tree(remote)
    assert {b"base", b"remote edit"} <= set(memory_tree(remote).values())
    assert list(_snapshot(state).parent.glob("snapshot.db.corrupt-*")), "the old file is kept"


async def test_snapshot_of_a_newer_bmsync_is_refused_even_with_resync(
    root: Path, state: Path
) -> None:
    remote = await _diverged(root, state)
    db = _snapshot(state)
    with sqlite3.connect(db) as conn:
        conn.execute("update meta set value = '99' where key = 'schema_version'")
    conn.close()
    local_before, remote_before, db_before = files_under(root), memory_tree(remote), db.read_bytes()
    for resync in (False, True):
        with pytest.raises(StateTooNewError, match="newer bmsync"):
            await sync(root, state, remote, resync=resync)
    assert files_under(root) == local_before and memory_tree(remote) == remote_before
    assert db.read_bytes() == db_before, "a newer bmsync's snapshot is never set aside"
