"""`S3Remote.throttled` (bmsync/s3/throttles.py): the store's "slow down" answers, counted on
the wire. A real server (moto_server, `rclone serve s3`) sits behind tests/faultproxy.py, which
answers chosen requests with `503 SlowDown` or `500 InternalError` before botocore's retry gets
through."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from bmsync.remotes import RemoteLocation
from bmsync.s3.remote import open_remote
from bmsync.s3.throttles import ThrottleCounter, is_throttle, throttle_counter
from bmsync.types import RemoteMeta
from tests.faultproxy import Fault, FaultProxy, PerIdentityBurst, Request
from tests.servers import S3TestServer

PREFIX = "p"


def heads_of(key: str) -> Any:
    def match(request: Request) -> bool:
        return request.operation == "HEAD" and request.key == f"{PREFIX}/{key}"

    return match


async def head_through(
    server: S3TestServer, proxy: FaultProxy, bucket: str, key: str
) -> tuple[RemoteMeta | None, int, Any]:
    """HEAD `key` with a remote of its own (a run's), through the proxy: the answer, the
    remote's count of throttles, and its client."""
    config = dataclasses.replace(server.config, endpoint_url=proxy.endpoint_url)
    async with open_remote(RemoteLocation(bucket, PREFIX), config) as remote:
        assert remote.throttled == 0
        meta = await remote.head(key)
        return meta, remote.throttled, remote.client


@pytest.mark.parametrize(
    ("fault", "counted"),
    [(Fault.SLOWDOWN, 2), (Fault.INTERNAL_ERROR, 0)],
    ids=["each slowdown answer is counted", "a server error is retried but no throttle"],
)
async def test_answers_are_retried_and_only_slowdowns_counted(
    s3_server: S3TestServer, bucket: str, proxy: FaultProxy, fault: Fault, counted: int
) -> None:
    s3_server.client.put_object(Bucket=bucket, Key=f"{PREFIX}/a.md", Body=b"a")
    proxy.policy = PerIdentityBurst(fault, 2, heads_of("a.md"))
    meta, throttled, _ = await head_through(s3_server, proxy, bucket, "a.md")
    assert meta is not None and meta.size == 1
    assert proxy.faults[fault] == 2
    assert throttled == counted


async def test_a_kept_client_counts_each_run_from_zero_with_one_handler(
    s3_server: S3TestServer, bucket: str, proxy: FaultProxy
) -> None:
    """The second run borrows the first run's client (s3/pool.py): it starts at 0, and a
    throttle is counted once, not once per run that used the client."""
    for key in ("a.md", "b.md"):
        s3_server.client.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=b"x")
    proxy.policy = PerIdentityBurst(Fault.SLOWDOWN, 2, heads_of("a.md"))
    _, first, client = await head_through(s3_server, proxy, bucket, "a.md")
    proxy.policy = PerIdentityBurst(Fault.SLOWDOWN, 1, heads_of("b.md"))
    _, second, same_client = await head_through(s3_server, proxy, bucket, "b.md")
    assert same_client is client
    assert (first, second) == (2, 1)
    assert throttle_counter(client).count == 3


# -- which answers are throttles -----------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, throttle",
    [
        (503, "SlowDown", True),
        (503, "503", True),  # a HEAD's 503: no body, botocore names it by its status
        (503, "ServiceUnavailable", True),
        (429, "TooManyRequests", True),
        (400, "Throttling", True),
        (400, "ThrottlingException", True),
        (400, "RequestLimitExceeded", True),
        (500, "InternalError", False),
        (403, "AccessDenied", False),
        (412, "PreconditionFailed", False),
        (200, None, False),
    ],
)
def test_throttles_are_told_by_status_or_code(
    status: int, code: str | None, throttle: bool
) -> None:
    assert is_throttle(status, code) is throttle
    counter = ThrottleCounter()
    parsed = {"Error": {"Code": code}} if code else {}
    counter.attempted(response=(SimpleNamespace(status_code=status), parsed), attempts=1)
    counter.attempted(response=None, caught_exception=ConnectionError())  # no answer at all
    assert counter.count == int(throttle)
