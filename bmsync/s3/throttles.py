"""Counting the store's "slow down" answers, for `S3Remote.throttled` (`RemoteStore.throttled`).

botocore retries a throttled request itself (standard mode: backoff with jitter) and tells its
caller nothing unless the retries run out, so bmsync would never learn that the store asked for
fewer requests. botocore emits `needs-retry` after every attempt, with its answer, before
deciding whether to retry: a handler there sees every throttled attempt, retried or final. It
returns None, which leaves botocore's retry decision and backoff exactly as they were.

What counts as a throttle: an S3 error code that means "too many requests" (`SlowDown` is what
S3 sends), or HTTP 429 or 503 whatever the code. S3's answer to too many requests is `503
SlowDown`, and the 503 of a HEAD carries no body to name its code; a 503 of another cause (a
store overloaded or restarting) asks for fewer requests just as well.

One counter per client, made and registered the first time a remote is built on that client:
clients are kept between runs (`pool.py`), so registering per remote would add a handler every
run. A run's count is the counter's growth since its remote was made; a client serves one run
at a time, so no run sees another's throttles.
"""

from __future__ import annotations

import weakref
from typing import Any

THROTTLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "BandwidthLimitExceeded",
    }
)
THROTTLE_STATUSES = frozenset({429, 503})


def is_throttle(status: int, code: str | None) -> bool:
    """Whether an answer with this HTTP status and S3 error code asks for fewer requests."""
    return status in THROTTLE_STATUSES or code in THROTTLE_CODES


class ThrottleCounter:
    """The number of throttled answers one client has received; it only grows."""

    def __init__(self) -> None:
        self.count = 0

    def attempted(self, response: Any = None, **_: Any) -> None:
        """The `needs-retry` handler: `response` is (HTTP response, parsed answer), or None
        when no answer came (a connection failure, which is no throttle)."""
        if response is None:
            return
        http, parsed = response
        code = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        if is_throttle(http.status_code, code):
            self.count += 1


_COUNTERS: weakref.WeakKeyDictionary[Any, ThrottleCounter] = weakref.WeakKeyDictionary()


def throttle_counter(client: Any) -> ThrottleCounter:
    """The counter of `client`'s throttled answers, registered on its first use."""
    counter = _COUNTERS.get(client)
    if counter is None:
        counter = _COUNTERS[client] = ThrottleCounter()
        client.meta.events.register("needs-retry.s3", counter.attempted)
    return counter
