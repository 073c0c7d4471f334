"""Syncs through a network that fails: transient faults are retried, per-file faults contained.

Every test puts `tests/faultproxy.py` between bmsync and a real S3 server (moto_server or
`rclone serve s3`, both on 127.0.0.1) and checks the promise of the reliability issue:

- latency, connection resets (before a request is forwarded, or part-way through its answer),
  `503 SlowDown` and `500 InternalError` at 10-20 % of requests: each run ends "ok" or "partial"
  with per-file errors, a few runs converge, and nothing is lost;
- a listing that fails even after the retries stops the run with a `RemoteError` that says what
  happened, and changes nothing (snapshot, folder, bucket): the next run converges;
- a wrong secret stops the run with a `RemoteAuthError` that says what to fix and shows no secret,
  after one request (an auth failure is not worth retrying);
- a burst of SlowDown on PUTs and stalled answers (read timeouts) are retried with backoff.

Out-of-band setup and inspection go to the server directly, never through the proxy, so a fault
can only hit bmsync. Which request gets which fault follows from the seed (see
`tests/faultproxy.py`): a fixed default, `BMSYNC_FAULT_SEED=<seed>` for another (`random` for a
fresh one); a longer run repeats the random-faults test `BMSYNC_FAULT_REPEATS` times, each with
the next seed. The seed and the figures of the module (requests proxied, faults by type, runs
needed, losses) are printed at its end, and a failing test prints its seed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import sqlite3
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import bmsync.s3.client
from bmsync import S3Config, SyncReport, sync_project
from bmsync.errors import ConfigError, RemoteAuthError, RemoteError
from tests.faultproxy import (
    Fault,
    FaultProxy,
    PerIdentityBurst,
    ProxyStats,
    RandomFaults,
    Request,
    always,
    no_faults,
    on_keys,
)
from tests.model import choose_seed
from tests.servers import S3TestServer, ServerPool

PREFIX = "notes"
SEED_ENV = "BMSYNC_FAULT_SEED"
DEFAULT_SEED = 20261123
SEED, SEED_ORIGIN = choose_seed(SEED_ENV, DEFAULT_SEED, random_outside_ci=False)
REPEATS = int(os.environ.get("BMSYNC_FAULT_REPEATS", "1"))
MAX_RUNS = 5
"""Runs allowed to converge, the final no-op run not included."""
RANDOM_FAULTS = RandomFaults(
    latency=0.25,
    max_latency_s=0.2,
    reset_before=0.04,
    reset_mid=0.04,
    slowdown=0.04,
    internal_error=0.03,
)
"""15 % of requests fail (a quarter of them after the server did the work), a quarter are slow."""


# -- figures for the whole module ------------------------------------------------------------


@dataclasses.dataclass
class Figures:
    """What the module's tests did, summed: printed at the end as the issue asks."""

    stats: ProxyStats = dataclasses.field(default_factory=ProxyStats)
    runs_to_converge: list[str] = dataclasses.field(default_factory=list)
    per_file_errors: int = 0
    losses: int = 0

    def lines(self) -> list[str]:
        faults = self.stats.faults
        return [
            f"fault seed {SEED} ({SEED_ORIGIN}): replay with {SEED_ENV}={SEED}",
            f"fault proxy: {self.stats.requests} requests proxied",
            "faults injected: "
            + ", ".join(f"{fault.value}={faults[fault]}" for fault in Fault if faults[fault])
            + f"; latency added to {self.stats.latency_count} requests",
            f"runs to converge: {'; '.join(self.runs_to_converge) or 'n/a'}",
            f"per-file errors reported along the way: {self.per_file_errors}",
            f"losses found: {self.losses}",
        ]


FIGURES = Figures()


@pytest.fixture(scope="module", autouse=True)
def _print_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print()
        for line in FIGURES.lines():
            print(f"[test_faults] {line}")


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def fault_seed(request: pytest.FixtureRequest) -> int:
    """The module's seed, plus the repeat number of a test parametrized by `repeat`; printed
    so a failing test shows it (pytest prints a failure's captured output)."""
    callspec = getattr(request.node, "callspec", None)
    seed = SEED + (callspec.params.get("repeat", 0) if callspec is not None else 0)
    print(f"fault seed {seed}: replay with {SEED_ENV}={seed}")
    return seed


def start_proxy(server: S3TestServer, seed: int) -> FaultProxy:
    return FaultProxy(str(server.config.endpoint_url), seed=seed).start()


@pytest.fixture
def proxy(s3_server: S3TestServer, fault_seed: int) -> Iterator[FaultProxy]:
    running = start_proxy(s3_server, fault_seed)
    try:
        yield running
    finally:
        running.stop()
        FIGURES.stats = FIGURES.stats + running.stats()


class Bucket:
    """The remote prefix seen from outside bmsync, straight to the server (no proxy)."""

    def __init__(self, server: S3TestServer) -> None:
        self.client = server.client
        self.name = server.create_bucket()
        self.url = f"s3://{self.name}/{PREFIX}"

    def put(self, rel: str, data: str) -> None:
        self.client.put_object(Bucket=self.name, Key=f"{PREFIX}/{rel}", Body=data.encode())

    def delete(self, rel: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=f"{PREFIX}/{rel}")

    def tree(self) -> dict[str, bytes]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=f"{PREFIX}/"
        )
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        return {
            key[len(PREFIX) + 1 :]: self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
            for key in keys
        }


class Project:
    """One machine syncing `root` with the bucket through the proxy."""

    def __init__(self, tmp_path: Path, bucket: Bucket, config: S3Config) -> None:
        self.root = tmp_path / "notes"
        self.root.mkdir()
        self.state = tmp_path / "state"
        self.bucket = bucket
        self.config = config

    async def sync(self, config: S3Config | None = None) -> SyncReport:
        return await sync_project(
            self.root, self.bucket.url, s3=config or self.config, state_dir=self.state
        )

    def write(self, rel: str, data: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink()

    def tree(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.root).as_posix(): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def temp_files(self) -> list[Path]:
        return sorted(self.root.rglob(".bmsync-tmp-*"))

    def snapshot(self) -> list[tuple[Any, ...]]:
        """The snapshot's rows (the `files` table), read with plain sqlite3."""
        dbs = sorted(self.state.rglob("snapshot.db"))
        assert len(dbs) == 1, dbs
        with contextlib.closing(sqlite3.connect(dbs[0])) as conn:
            rows = conn.execute(
                "SELECT path, size, mtime_ns, xxh3, etag FROM files ORDER BY path"
            ).fetchall()
        return rows


def through(proxy: FaultProxy, config: S3Config) -> S3Config:
    return dataclasses.replace(config, endpoint_url=proxy.endpoint_url)


@pytest.fixture
def project(tmp_path: Path, s3_server: S3TestServer, proxy: FaultProxy) -> Project:
    return Project(tmp_path, Bucket(s3_server), through(proxy, s3_server.config))


def losses(expected: dict[str, bytes], *trees: dict[str, bytes]) -> list[str]:
    """Paths expected but missing or different on some side."""
    return sorted(
        {path for tree in trees for path, data in expected.items() if tree.get(path) != data}
    )


async def converge(project: Project, seed: int) -> list[SyncReport]:
    """Sync until a run is a no-op; every run must end "ok" or "partial" with per-file errors."""
    reports: list[SyncReport] = []
    for _ in range(MAX_RUNS + 1):
        report = await project.sync()
        reports.append(report)
        assert report.status in ("ok", "partial"), (seed, report.status, report.abort_reason)
        assert (report.status == "partial") == bool(report.errors), (seed, report.errors)
        FIGURES.per_file_errors += len(report.errors)
        for error in report.errors:
            print(f"  per-file error, run {len(reports)}: {error.path}: {error.message}")
        if report.status == "ok" and not report.changed:
            return reports
    pytest.fail(f"no convergence in {MAX_RUNS} runs plus a no-op (fault seed {seed})")


def describe_runs(reports: list[SyncReport]) -> str:
    return ", ".join(f"{r.status}({len(r.errors)} errors, {r.duration_s:.1f} s)" for r in reports)


# -- random faults on a real sync -------------------------------------------------------------


LOCAL_NOTES = 80
REMOTE_NOTES = 40


def note(origin: str, i: int, version: int = 1) -> str:
    return f"# {origin} note {i}, version {version}\n" + "text line\n" * (i % 7 + version)


@pytest.mark.parametrize("repeat", range(REPEATS))
async def test_random_faults_converge_without_loss(
    project: Project, proxy: FaultProxy, fault_seed: int, s3_server: S3TestServer, repeat: int
) -> None:
    bucket = project.bucket
    for i in range(LOCAL_NOTES):
        project.write(f"local/{i % 4}/{i:03d}.md", note("local", i))
    for i in range(REMOTE_NOTES):
        bucket.put(f"remote/{i:03d}.md", note("remote", i))
    expected = {**project.tree(), **{k: v for k, v in bucket.tree().items()}}
    proxy.policy = RANDOM_FAULTS

    first = await converge(project, fault_seed)
    assert project.tree() == expected, fault_seed
    assert bucket.tree() == expected, fault_seed

    # Second round: edits, deletes and new files on both sides, disjoint (no conflicts).
    def on_local(rel: str, data: str | None) -> None:
        if data is None:
            project.delete(rel)
            del expected[rel]
        else:
            project.write(rel, data)
            expected[rel] = data.encode()

    def on_remote(rel: str, data: str | None) -> None:
        if data is None:
            bucket.delete(rel)
            del expected[rel]
        else:
            bucket.put(rel, data)
            expected[rel] = data.encode()

    for i in range(0, 40, 2):
        on_local(f"local/{i % 4}/{i:03d}.md", note("local", i, 2))
    for i in range(1, 20, 2):
        on_local(f"local/{i % 4}/{i:03d}.md", None)
    for i in range(10):
        on_local(f"local/new/{i}.md", note("new local", i))
    for i in range(0, 30, 2):
        on_remote(f"remote/{i:03d}.md", note("remote", i, 2))
    for i in range(31, 40, 2):
        on_remote(f"remote/{i:03d}.md", None)
    for i in range(10):
        on_remote(f"remote/new/{i}.md", note("new remote", i))
    for i in range(21, 30, 2):  # files of one origin edited on the other side
        on_local(f"remote/{i:03d}.md", note("remote", i, 3))
        on_remote(f"local/{(i + 40) % 4}/{i + 40:03d}.md", note("local", i + 40, 3))

    second = await converge(project, fault_seed)
    local, remote = project.tree(), bucket.tree()
    lost = losses(expected, local, remote)
    FIGURES.losses += len(lost)
    assert not lost, (fault_seed, lost[:10])
    assert local == remote == expected, fault_seed  # nothing extra either: no conflict copies
    assert project.temp_files() == [], fault_seed

    stats = proxy.stats()
    runs = f"{s3_server.name}: {len(first)} then {len(second)} (final no-op included)"
    FIGURES.runs_to_converge.append(runs)
    print(f"{s3_server.name}, seed {fault_seed}: {stats.describe()}")
    print(f"  first round: {describe_runs(first)}; second round: {describe_runs(second)}")
    assert sum(stats.faults.values()) > 0.05 * stats.requests, "the faults did not happen"


# -- a listing that fails for good -------------------------------------------------------------


LISTING_ATTEMPTS = 3


@pytest.mark.parametrize(
    "fault",
    [Fault.INTERNAL_ERROR, Fault.SLOWDOWN, Fault.RESET_BEFORE, Fault.RESET_MID],
    ids=lambda fault: fault.value,
)
async def test_listing_failure_stops_the_run_and_changes_nothing(
    project: Project,
    proxy: FaultProxy,
    fault: Fault,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = project.bucket
    for name in ("a", "b", "c"):
        project.write(f"{name}.md", f"{name} v1")
    bucket.put("r.md", "r v1")
    assert (await project.sync()).status == "ok"
    project.write("a.md", "a v2, edited locally")
    project.delete("b.md")
    bucket.put("r.md", "r v2, edited remotely")
    bucket.put("n.md", "new remotely")
    snapshot, local, remote = project.snapshot(), project.tree(), bucket.tree()

    # The AWS setting bmsync honours: 3 attempts in all, so the retries run out quickly.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", str(LISTING_ATTEMPTS))
    proxy.policy = always(fault, {"LIST"})
    before = proxy.stats()
    with pytest.raises(RemoteError) as raised:
        await project.sync()
    spent = proxy.stats() - before

    err = raised.value
    message = str(err)
    print(f"{fault.value}: {type(err).__name__}: {message}")
    assert not isinstance(err, RemoteAuthError)
    assert bucket.url in message, message  # says which listing failed
    assert "run again" in message, message  # and that trying later is the remedy
    assert "could not be reached" not in message, message  # the endpoint was reached
    assert spent.faults[fault] == spent.operations["LIST"] == spent.requests
    if fault in (Fault.INTERNAL_ERROR, Fault.SLOWDOWN):
        assert spent.operations["LIST"] == LISTING_ATTEMPTS
    else:  # aiohttp may retry a reset connection once more by itself
        assert LISTING_ATTEMPTS <= spent.operations["LIST"] <= 2 * LISTING_ATTEMPTS
    assert project.snapshot() == snapshot
    assert project.tree() == local and bucket.tree() == remote

    proxy.policy = no_faults
    report = await project.sync()
    assert report.status == "ok", report.errors
    assert report.uploaded == ["a.md"] and report.deleted_remote == ["b.md"]
    assert report.downloaded == ["n.md", "r.md"]
    expected = {
        "a.md": b"a v2, edited locally",
        "c.md": b"c v1",
        "n.md": b"new remotely",
        "r.md": b"r v2, edited remotely",
    }
    assert project.tree() == bucket.tree() == expected


# -- objects that fail for good ------------------------------------------------------------


OBJECT_ATTEMPTS = 2
"""`AWS_MAX_ATTEMPTS` for the test below: botocore gives up on a failing request after 2."""
TRANSFER_ATTEMPTS = 3
"""What docs/reliability.md promises for a body cut off mid-stream: the executor starts the
transfer again, up to three times in all (`TRANSIENT_ATTEMPTS`, counted here at the wire)."""


async def test_objects_that_always_fail_are_per_file_errors_and_the_rest_syncs(
    project: Project, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault that outlasts every retry on some objects (each request on a chosen key fails,
    retries included) fails those files alone: the run ends "partial" with one per-file error
    each, everything else is synced in the same run, and the next run (faults gone) converges.
    The wire shows how often each was tried: botocore's attempts (`AWS_MAX_ATTEMPTS`) for an
    error answer, the executor's three for a body cut off mid-stream."""
    bucket = project.bucket
    for i in range(4):
        project.write(f"base/{i}.md", f"base {i}")
    assert (await project.sync()).status == "ok"
    for i in range(6):
        project.write(f"up/{i}.md", f"new local {i}")
        bucket.put(f"down/{i}.md", f"new remote {i}\n" * (CUT_BYTES // 16 if i == 2 else 1))
    project.delete("base/0.md")
    project.delete("base/1.md")
    expected = {**project.tree(), **bucket.tree()}
    del expected["base/0.md"], expected["base/1.md"]
    failing = {
        ("PUT", "up/1.md"): Fault.INTERNAL_ERROR,
        ("PUT", "up/2.md"): Fault.RESET_BEFORE,
        ("GET", "down/1.md"): Fault.INTERNAL_ERROR,
        ("GET", "down/2.md"): Fault.RESET_MID,  # the body is cut: the executor's retries
        ("DELETE", "base/1.md"): Fault.SLOWDOWN,
    }
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", str(OBJECT_ATTEMPTS))
    proxy.policy = on_keys({(op, f"{PREFIX}/{rel}"): f for (op, rel), f in failing.items()})
    before = proxy.stats()

    report = await project.sync()

    failed = sorted(rel for _, rel in failing)
    assert report.status == "partial", (report.status, report.abort_reason)
    assert sorted(error.path for error in report.errors) == failed, report.errors
    FIGURES.per_file_errors += len(report.errors)
    for error in report.errors:
        print(f"per-file error: {error.path}: {error.message}")
        assert error.path in error.message, error.message
    assert report.uploaded == ["up/0.md", "up/3.md", "up/4.md", "up/5.md"]
    assert report.downloaded == ["down/0.md", "down/3.md", "down/4.md", "down/5.md"]
    assert report.deleted_remote == ["base/0.md"]
    local, remote = project.tree(), bucket.tree()
    assert sorted(set(expected) - set(local)) == ["down/1.md", "down/2.md"]
    assert sorted(set(expected) - set(remote)) == ["up/1.md", "up/2.md"]
    assert "base/1.md" in remote and project.temp_files() == []
    tries = Counter(
        (r.operation, r.key.removeprefix(f"{PREFIX}/"))
        for r in proxy.records()[before.requests :]
        if (r.operation, r.key.removeprefix(f"{PREFIX}/")) in failing
    )
    print(f"attempts at the wire: {dict(tries)}")
    assert tries["GET", "down/2.md"] == TRANSFER_ATTEMPTS, tries
    for answered in (("PUT", "up/1.md"), ("GET", "down/1.md"), ("DELETE", "base/1.md")):
        assert tries[answered] == OBJECT_ATTEMPTS, tries
    assert OBJECT_ATTEMPTS <= tries["PUT", "up/2.md"] <= 2 * OBJECT_ATTEMPTS, tries  # aiohttp

    proxy.policy = no_faults
    report = await project.sync()
    assert report.status == "ok", report.errors
    assert project.tree() == bucket.tree() == expected
    assert not (await project.sync()).changed


# -- a wrong secret ---------------------------------------------------------------------------


@pytest.fixture
def rclone_server(s3_server_pool: ServerPool) -> S3TestServer:
    """rclone's server checks signatures; moto accepts any credentials."""
    return s3_server_pool.get("rclone")


async def test_wrong_secret_stops_the_run_with_a_clear_message(
    tmp_path: Path, rclone_server: S3TestServer, fault_seed: int
) -> None:
    proxy = start_proxy(rclone_server, fault_seed)
    try:
        config = through(proxy, rclone_server.config)
        project = Project(tmp_path, Bucket(rclone_server), config)
        project.write("a.md", "a v1")
        project.write("b.md", "b v1")
        assert (await project.sync()).status == "ok"
        project.write("a.md", "a v2")
        project.bucket.put("b.md", "b v2")
        snapshot, local, remote = project.snapshot(), project.tree(), project.bucket.tree()

        wrong_secret = f"wrong-{uuid.uuid4().hex}"
        before = proxy.stats()
        with pytest.raises(RemoteAuthError) as raised:
            await project.sync(dataclasses.replace(config, secret_access_key=wrong_secret))
        spent = proxy.stats() - before

        message = str(raised.value)
        print(f"auth failure: {message}")
        assert "AWS_SECRET_ACCESS_KEY" in message and "secret access key" in message
        everything = "".join(traceback.format_exception(raised.value))
        for secret in (wrong_secret, str(rclone_server.config.secret_access_key)):
            assert secret not in everything
        assert spent.requests == spent.operations["LIST"] == 1, "an auth failure is not retried"
        assert project.snapshot() == snapshot
        assert project.tree() == local and project.bucket.tree() == remote

        report = await project.sync()
        assert report.status == "ok", report.errors
        assert report.uploaded == ["a.md"] and report.downloaded == ["b.md"]
        assert project.tree() == project.bucket.tree() == {"a.md": b"a v2", "b.md": b"b v2"}
    finally:
        proxy.stop()
        FIGURES.stats = FIGURES.stats + proxy.stats()


# -- throttling and timeouts --------------------------------------------------------------------


def data_request(operation: str) -> Callable[[Request], bool]:
    """Matches `operation` on the synced objects (not the probe bmsync writes to its trash)."""

    def match(request: Request) -> bool:
        return request.operation == operation and request.key.startswith(f"{PREFIX}/")

    return match


THROTTLED_FILES = 16
SLOWDOWNS_PER_PUT = 2


async def test_slowdown_burst_on_puts_is_retried_with_backoff(
    project: Project, proxy: FaultProxy
) -> None:
    for i in range(THROTTLED_FILES):
        project.write(f"t/{i:02d}.md", f"throttled {i}")
    proxy.policy = PerIdentityBurst(Fault.SLOWDOWN, SLOWDOWNS_PER_PUT, data_request("PUT"))
    report = await project.sync()
    assert report.status == "ok", report.errors
    assert len(report.uploaded) == THROTTLED_FILES
    assert project.bucket.tree() == project.tree()

    stats = proxy.stats()
    puts: dict[str, list[float]] = {}
    for record in proxy.records():
        if record.operation == "PUT" and record.key.startswith(f"{PREFIX}/"):
            puts.setdefault(record.key, []).append(record.at)
    assert stats.faulted_operations[("PUT", Fault.SLOWDOWN)] == THROTTLED_FILES * 2
    assert {len(times) for times in puts.values()} == {SLOWDOWNS_PER_PUT + 1}, puts
    gaps = [later - earlier for times in puts.values() for earlier, later in pairwise(times)]
    mean_gap = sum(gaps) / len(gaps)
    print(f"SlowDown retries: {len(gaps)}, mean wait {mean_gap:.2f} s, max {max(gaps):.2f} s")
    # Full jitter over 1 s then 2 s: a mean near 0.75 s. Well above zero means backoff happened.
    assert mean_gap > 0.1, gaps


STALLED_FILES = 6


async def test_stalled_answers_time_out_and_are_retried(
    project: Project, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(STALLED_FILES):
        project.bucket.put(f"s/{i}.md", f"stalled {i}")
    # No AWS setting for the read timeout: shorten bmsync's own for this test.
    monkeypatch.setattr(bmsync.s3.client, "READ_TIMEOUT_S", 1)
    proxy.policy = PerIdentityBurst(Fault.STALL, 1, data_request("GET"))
    report = await project.sync()
    assert report.status == "ok", report.errors
    assert len(report.downloaded) == STALLED_FILES
    assert project.tree() == project.bucket.tree()
    stats = proxy.stats()
    assert stats.faults[Fault.STALL] == STALLED_FILES
    assert stats.operations["GET"] == 2 * STALLED_FILES


# -- answers cut short ------------------------------------------------------------------------


def lose_the_first_answer(operation: str, rel: str) -> PerIdentityBurst:
    """The first `operation` on `rel` reaches the server, then the connection resets part-way
    through the answer."""

    def match(request: Request) -> bool:
        return request.operation == operation and request.key == f"{PREFIX}/{rel}"

    return PerIdentityBurst(Fault.RESET_MID, 1, match)


CUT_FILES = 4
CUT_BYTES = 64 << 10
"""Large enough that the cut (at a random byte of the body) lands inside it."""


async def test_download_cut_mid_body_is_retried_within_the_run(
    project: Project, proxy: FaultProxy
) -> None:
    """botocore retries a request whose answer never came, not a body that broke off once it
    was handed over: the executor starts such a transfer again (`TransientError`), so the run
    converges at once, with no per-file error for the next run to mop up."""
    for i in range(CUT_FILES):
        project.bucket.put(f"cut/{i}.md", f"line {i} of a long note\n" * (CUT_BYTES // 24))
    proxy.policy = PerIdentityBurst(Fault.RESET_MID, 1, data_request("GET"))
    report = await project.sync()
    assert report.status == "ok" and report.errors == [], report.errors
    assert len(report.downloaded) == CUT_FILES
    assert project.tree() == project.bucket.tree()
    stats = proxy.stats()
    assert stats.faulted_operations[("GET", Fault.RESET_MID)] == CUT_FILES
    assert stats.operations["GET"] == 2 * CUT_FILES, "each download started over once"
    assert not (await project.sync()).changed


@pytest.mark.moto_only("rclone's server ignores conditions, so a resent PUT cannot fail one")
async def test_lost_put_answer_is_recognised_as_our_own_write(
    project: Project, proxy: FaultProxy
) -> None:
    """A PUT lands but its answer is lost (the connection resets as the answer arrives);
    botocore sends it again, and the store refuses the repeat because its condition
    (`If-None-Match: *` for a new key, `If-Match` the old ETag for an edit) no longer holds: the
    object is ours. bmsync must see that (same size and xxh3 as sent) and record the upload,
    not report the object as changed by someone else."""
    project.write("new.md", "a new note")
    project.write("other.md", "another note")
    proxy.policy = lose_the_first_answer("PUT", "new.md")
    report = await project.sync()
    assert report.status == "ok" and report.errors == [], report.errors
    assert report.uploaded == ["new.md", "other.md"]
    project.write("new.md", "a new note, edited")
    proxy.policy = lose_the_first_answer("PUT", "new.md")
    report = await project.sync()
    assert report.status == "ok" and report.errors == [], report.errors
    assert report.uploaded == ["new.md"]
    assert project.bucket.tree() == project.tree()
    puts = [r for r in proxy.records() if r.operation == "PUT" and r.key == f"{PREFIX}/new.md"]
    assert [r.fault for r in puts] == [Fault.RESET_MID, Fault.NONE] * 2, "the answer was lost"
    assert not (await project.sync()).changed, "the snapshot holds the object's real ETag"


# -- the proxy's own framing ---------------------------------------------------------------------


class _ChunkedEcho(BaseHTTPRequestHandler):
    """Echoes a chunked request body back as a chunked response, on a keep-alive connection."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b""):
            pass  # trailers
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in (body[:3], body[3:]):
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *_: Any) -> None:
        pass


def test_proxy_relays_chunked_messages_both_ways(fault_seed: int) -> None:
    """botocore sends no chunked bodies with bmsync's settings, but S3 servers may answer
    chunked, and a proxy that got the framing wrong would corrupt the next request on the
    connection: two requests on one keep-alive connection prove the boundaries."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _ChunkedEcho)
    serving = threading.Thread(target=upstream.serve_forever, daemon=True)
    serving.start()
    try:
        with FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}", seed=fault_seed) as fp:
            conn = http.client.HTTPConnection("127.0.0.1", fp.port, timeout=10)
            for text in (b"hello chunked world", b"and again"):
                conn.request("POST", "/echo", body=iter([text[:5], text[5:]]), encode_chunked=True)
                response = conn.getresponse()
                assert (response.status, response.read()) == (200, text)
            conn.close()
            assert fp.requests_seen == 2 and not fp.faults
    finally:
        upstream.shutdown()
        upstream.server_close()


@pytest.mark.parametrize("value", ["0", "lots"])
async def test_unusable_aws_max_attempts_is_a_config_error(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempts knob the listing test relies on is checked, not silently ignored."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", value)
    config = S3Config(endpoint_url="http://127.0.0.1:1", region="us-east-1")
    with pytest.raises(ConfigError, match="AWS_MAX_ATTEMPTS"):
        async with bmsync.s3.client.open_s3_client(config):
            pass
