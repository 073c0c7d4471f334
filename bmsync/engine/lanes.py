"""Lanes: how many of a run's actions the executor has in flight at once, and the store's say.

A small file's transfer (under `SMALL_BYTES`) is one or two round trips with little to send, so
at tens of milliseconds per round trip `transfers` of them at once leave the link idle. Small
actions (deletes, moves, records and folder markers included) run up to `SMALL_FACTOR` times
`transfers` at once, capped at `options.MAX_REQUESTS_IN_FLIGHT` (the client's connection pool);
large ones keep to `transfers`. Memory stays bounded: a small upload holds at most
`SMALL_BYTES` (32 MiB in all at the cap), and a large one streams (`s3/multipart.py`).

That width is bmsync's own choice, so it gives it back when the store asks: as each small
action ends, the lanes read `RemoteStore.throttled` (the store's "slow down" answers so far),
and the limit on small actions in flight follows `aimd.py`: halved on a throttle, down to
`transfers` and never below (what the user asked for), one wider per round without one, back
up to the cap. `gate.py` enforces the moving limit without cancelling an action in flight.
botocore still retries each throttled request itself; a store that never throttles leaves the
limit at the cap, as if it were fixed. A run that ends still narrowed says so in its warnings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from bmsync.engine import aimd
from bmsync.engine.gate import Gate
from bmsync.options import MAX_REQUESTS_IN_FLIGHT
from bmsync.ports import RemoteStore
from bmsync.report import FileError

SMALL_BYTES = 1 << 20
"""Actions moving less than this many bytes share the wider gate (see the module docstring)."""
SMALL_FACTOR = 4

log = logging.getLogger(__name__)


def small_transfers(transfers: int) -> int:
    """How many small actions run at once next to `transfers` large ones."""
    return max(transfers, min(SMALL_FACTOR * transfers, MAX_REQUESTS_IN_FLIGHT))


class Lanes:
    """The two limits of one run: `transfers` large actions, and a moving number of small
    ones that the store's throttling narrows."""

    def __init__(self, remote: RemoteStore, transfers: int) -> None:
        self._remote = remote
        self._large = asyncio.Semaphore(transfers)
        self._width = aimd.opened(floor=transfers, cap=small_transfers(transfers))
        self._small = Gate(self._width.cap)
        self._throttles_at_start = self._throttles_seen = remote.throttled

    def slot(self, planned_bytes: int) -> AbstractAsyncContextManager[object]:
        """A place for an action that moves `planned_bytes`, in the lane its size says."""
        return self.small_slot() if planned_bytes < SMALL_BYTES else self._large

    @contextlib.asynccontextmanager
    async def small_slot(self) -> AsyncIterator[None]:
        """A place among the small actions in flight. Its end is an event for the limiter,
        taken before the place is freed, so that a narrower limit already holds back the
        next action waiting for it."""
        async with self._small:
            try:
                yield
            finally:
                throttles = self._remote.throttled
                throttled = throttles > self._throttles_seen
                self._throttles_seen = throttles
                self._width = aimd.after(self._width, throttled=throttled)
                self._small.limit = self._width.limit

    def throttling_note(self) -> FileError | None:
        """A warning when the store asked to slow down and the run ended narrower than it
        began: the store may well be throttling the next run too."""
        asked = self._remote.throttled - self._throttles_at_start
        width = self._width
        if asked:
            log.info("the store asked to slow down %d times; %d small actions at once at the "
                     "end (cap %d)", asked, width.limit, width.cap)  # fmt: skip
        if not asked or width.limit >= width.cap:
            return None
        return FileError(
            "(throttled)",
            f"the store asked to slow down {asked} times (botocore retries each such "
            f"request after a pause); small transfers were down to {width.limit} at "
            f"once by the end, from {width.cap}. If this recurs, a lower --transfers "
            "asks less of the store",
        )
