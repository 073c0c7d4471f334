"""`Gate`: a semaphore whose size may change while it is held.

`asyncio.Semaphore` has a fixed size. The executor's limit on small actions moves
(`aimd.py`), and shrinking must not cancel anything: an action in flight is a request the store
is already working on, and cancelling it would only waste it. So the gate counts holders
against a `limit` that can be set at any time. Lowered, it lets every holder finish and admits
no one until fewer than `limit` hold it; raised, it admits waiters at once. Waiters are
admitted in the order they came, and a slot is handed to a waiter as it frees (counted for it
before it runs), so a newcomer never overtakes one already waiting.
"""

from __future__ import annotations

import asyncio
import collections
from types import TracebackType


class Gate:
    def __init__(self, limit: int) -> None:
        self._limit = _checked(limit)
        self._holders = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, limit: int) -> None:
        self._limit = _checked(limit)
        self._admit()

    @property
    def holders(self) -> int:
        """How many hold the gate now (may exceed `limit` just after it was lowered)."""
        return self._holders

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        if not self._waiters and self._holders < self._limit:
            self._holders += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._holders -= 1  # admitted, then cancelled before it ran: give the slot on
            elif waiter in self._waiters:  # a release since may have dropped it already
                self._waiters.remove(waiter)
            self._admit()
            raise

    def release(self) -> None:
        if self._holders <= 0:
            raise RuntimeError("Gate released more often than acquired")
        self._holders -= 1
        self._admit()

    def _admit(self) -> None:
        while self._waiters and self._holders < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._holders += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _checked(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"a gate's limit must be at least 1 (got {limit})")
    return limit
