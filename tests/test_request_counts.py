"""What a run sends to the S3 server, counted at the wire.

README promises that an unchanged project costs one `ListObjectsV2` page per 1000 files and
nothing else (no HEAD, no GET), and docs/reliability.md that the trash purge and the cleanup of
stale multipart uploads happen at most once a day, so that a quiet run stays one listing. Both
are claims about requests, so these tests count requests: `tests/faultproxy.py`, with no faults,
between bmsync and a real server (moto_server and `rclone serve s3`), records each one.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bmsync import S3Config, SyncReport, sync_project
from bmsync.s3 import listing
from tests.faultproxy import FaultProxy, Record
from tests.servers import S3TestServer

PREFIX = "notes"
NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
FILES = 1500
PAGE = 1000
"""The most keys a ListObjectsV2 page holds."""


class Project:
    """A folder synced with a fresh bucket, directly or through the counting proxy."""

    def __init__(self, tmp_path: Path, server: S3TestServer, proxy: FaultProxy) -> None:
        self.root = tmp_path / "notes"
        self.root.mkdir()
        self.state = tmp_path / "state"
        self.url = f"s3://{server.create_bucket()}/{PREFIX}"
        self.direct = server.config
        self.counted = dataclasses.replace(server.config, endpoint_url=proxy.endpoint_url)
        self.proxy = proxy

    async def sync(self, s3: S3Config, **kw: Any) -> SyncReport:
        report = await sync_project(self.root, self.url, s3=s3, state_dir=self.state, **kw)
        assert report.status == "ok" and not report.errors, report.errors
        return report

    async def counted_sync(self, **kw: Any) -> tuple[SyncReport, list[Record]]:
        """A sync through the proxy, and the requests it sent, less each attempt the server
        itself failed with a 5xx: botocore sends that request again, as it should.
        (`rclone serve s3` answers a PUT into a folder it is busy writing with a 500 now and
        then, "Dir.Rename error: file does not exist" in its log.)"""
        before, failed_before = len(self.proxy.records()), len(self.proxy.server_errors())
        report = await self.sync(self.counted, **kw)
        sent = self.proxy.records()[before:]
        for failed in self.proxy.server_errors()[failed_before:]:
            first = next(i for i, r in enumerate(sent) if (r.operation, r.key) == failed)
            del sent[first]
        return report, sent


@pytest.fixture
def project(tmp_path: Path, s3_server: S3TestServer, proxy: FaultProxy) -> Project:
    return Project(tmp_path, s3_server, proxy)


def kinds(records: list[Record]) -> Counter[str]:
    """Requests by what they ask: the project listing, the trash listing (by run folder, so
    with a delimiter), a folder listing (with a delimiter too, outside the trash: the existence
    checks of new keys where the store ignores conditions), the multipart-upload listing, or
    any other operation."""
    found: Counter[str] = Counter()
    for record in records:
        query = record.identity.partition("?")[2].split("&")
        if "uploads" in query:
            found["multipart listing"] += 1
        elif record.operation == "LIST" and "delimiter" in query:
            trash = record.list_prefix.startswith(".bmsync-trash/")
            found["trash listing" if trash else "folder listing"] += 1
        elif record.operation == "LIST":
            found["listing"] += 1
        else:
            found[record.operation] += 1
    return found


async def test_an_unchanged_project_costs_one_listing_page_per_1000_files(
    project: Project,
) -> None:
    for i in range(FILES):
        path = project.root / f"d{i % 10}" / f"{i:04d}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"note {i}\n")
    first = await project.sync(project.direct, now=NOW)
    assert len(first.uploaded) == FILES
    report, sent = await project.counted_sync(now=NOW + timedelta(hours=1))
    assert not report.changed
    assert kinds(sent) == {"listing": math.ceil(FILES / PAGE)}, kinds(sent)


async def test_trash_purge_and_upload_cleanup_run_once_a_day(project: Project) -> None:
    """The first run purges; a run the same day sends only its listing; a run a day after the
    purge purges again (both listings), and the next one that day does not."""
    (project.root / "a.md").write_text("a")
    _, sent = await project.counted_sync(now=NOW)
    assert kinds(sent)["trash listing"] == kinds(sent)["multipart listing"] == 1, kinds(sent)
    for later, purges in [
        (timedelta(hours=23), False),
        (timedelta(days=1, minutes=1), True),
        (timedelta(days=1, hours=12), False),
    ]:
        _, sent = await project.counted_sync(now=NOW + later)
        expected = {"listing": 1}
        if purges:
            expected |= {"trash listing": 1, "multipart listing": 1}
        assert kinds(sent) == expected, (later, kinds(sent))


NEW_FILES = 300
FOLDERS = 3


async def test_a_first_sync_sends_one_put_per_file_and_few_listings(
    project: Project, s3_server: S3TestServer
) -> None:
    """On a store that honours conditions (moto) a new file costs its PUT and nothing else;
    on one that ignores them (`rclone serve s3`) the existence checks share one listing of
    each folder (per second at most), not one LIST per key: about N PUTs, not 2N requests.
    Both pay the one-time probe: 2 PUTs and a DELETE."""
    for i in range(NEW_FILES):
        path = project.root / f"d{i % FOLDERS}" / f"{i:04d}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"note {i}\n")
    report, sent = await project.counted_sync(now=NOW)
    assert len(report.uploaded) == NEW_FILES
    found = kinds(sent)
    assert found["PUT"] == NEW_FILES + 2, found
    assert found["DELETE"] == 1, found
    housekeeping = {"listing": 1, "trash listing": 1, "multipart listing": 1}
    others = {k: n for k, n in found.items() if k not in {"PUT", "DELETE", "folder listing"}}
    assert others == housekeeping, found
    if s3_server.honours_conditions:
        assert found["folder listing"] == 0, found
    else:
        assert FOLDERS <= found["folder listing"] <= NEW_FILES // 10, found


async def test_a_large_prefix_is_listed_by_folder_with_a_stated_count(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `SPLIT_AFTER_PAGES` pages (one here, 5 by default) the rest of the prefix is
    listed by top-level folder: one delimiter page of the top level, then each folder not yet
    fully listed, once. Nothing is missed or doubled: the no-change sync finds no change."""
    monkeypatch.setattr(listing, "SPLIT_AFTER_PAGES", 1)
    keys = []
    for i in range(FILES):
        rel = f"d{i % 10}/{i:04d}.md" if i % 100 else f"top-{i:04d}.md"
        path = project.root / rel
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"note {i}\n")
        keys.append(f"{PREFIX}/{rel}")
    first = await project.sync(project.direct, now=NOW)
    assert len(first.uploaded) == FILES
    report, sent = await project.counted_sync(now=NOW + timedelta(hours=1))
    assert not report.changed and not report.errors
    after = sorted(keys)[PAGE - 1]
    rest = {key.rpartition("/")[0] + "/" for key in keys if key > after and key.count("/") == 2}
    assert kinds(sent) == {"listing": 1 + len(rest), "folder listing": 1}, kinds(sent)


async def test_the_folder_listed_in_part_is_listed_from_where_it_stopped(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder holding the last key of the first pages is listed again after that key
    (`StartAfter`), not from its start: 1,800 keys in `a/`, 700 in `b/`, one page first, then
    one page each for the rest of `a/` and for `b/` (2 for `a/` without it)."""
    monkeypatch.setattr(listing, "SPLIT_AFTER_PAGES", 1)
    for folder, count in (("a", 1800), ("b", 700)):
        (project.root / folder).mkdir()
        for i in range(count):
            (project.root / folder / f"{i:04d}.md").write_text(f"{folder} {i}\n")
    first = await project.sync(project.direct, now=NOW)
    assert len(first.uploaded) == 2500
    report, sent = await project.counted_sync(now=NOW + timedelta(hours=1))
    assert not report.changed and not report.errors
    assert kinds(sent) == {"listing": 3, "folder listing": 1}, kinds(sent)
