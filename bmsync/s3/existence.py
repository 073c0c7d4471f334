"""Whether keys exist, answered for many keys at once, on stores that ignore `If-None-Match`.

There each new key must be checked just before its PUT (`conditions`). Asked one key at a time
(a one-key LIST), a first sync of N notes cost N extra requests and N extra round trips. Here
the checks of keys in the same folder share one delimiter listing of that folder (its files,
not its sub-folders): a first sync of N notes in F folders sends about F listing pages.

Freshness: a folder's listing answers only checks that start within `MAX_AGE_S` of when it was
sent; a later check lists the folder again. The window in which another writer's new key can
be missed is thus at most `MAX_AGE_S` plus the PUT's own round trip (docs/reliability.md), where
the one-key LIST left only the round trip. A key past the end of a truncated page (a folder of
more than 1000 entries) is checked on its own, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from bmsync.s3.bucket import Bucket

MAX_AGE_S = 1.0
"""How long after it was sent a folder's listing may answer a check."""


@dataclass(frozen=True, slots=True)
class FolderPage:
    """The first listing page of one folder: the keys it holds, and up to which key it is
    complete (None: the whole folder)."""

    keys: frozenset[str]
    complete_to: str | None

    def covers(self, key: str) -> bool:
        return self.complete_to is None or key <= self.complete_to


@dataclass(slots=True)
class _Listing:
    sent_at: float
    task: asyncio.Future[FolderPage]


class ExistenceChecks:
    """Answers "does this key exist" for many keys with one listing per folder and second."""

    def __init__(
        self,
        bucket: Bucket,
        *,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bucket = bucket
        self._max_age_s = max_age_s
        self._clock = clock
        self._listings: dict[str, _Listing] = {}

    async def exists(self, key: str) -> bool:
        folder = key[: key.rfind("/") + 1]
        now = self._clock()
        listing = self._listings.get(folder)
        if listing is None or now - listing.sent_at > self._max_age_s:
            self._forget_stale(now)
            listing = _Listing(now, asyncio.ensure_future(list_folder(self._bucket, folder)))
            listing.task.add_done_callback(_retrieve)
            self._listings[folder] = listing
        try:
            # Shielded: a cancelled check must not cancel the listing others are waiting for.
            page = await asyncio.shield(listing.task)
        except Exception:
            if self._listings.get(folder) is listing:
                del self._listings[folder]  # a failed listing is not kept for the next check
            raise
        if page.covers(key):
            return key in page.keys
        return await key_exists(self._bucket, key)

    def _forget_stale(self, now: float) -> None:
        """Drop the pages too old to answer anything: memory stays that of the folders listed
        in the last second, not of every folder the run touched."""
        stale = [f for f, kept in self._listings.items() if now - kept.sent_at > self._max_age_s]
        for folder in stale:
            del self._listings[folder]


async def list_folder(bucket: Bucket, folder: str) -> FolderPage:
    """One delimiter listing page of `folder` (a key prefix ending in `/`, or `""`)."""
    response = await bucket.client.list_objects_v2(Bucket=bucket.name, Prefix=folder, Delimiter="/")
    keys = frozenset(entry["Key"] for entry in response.get("Contents") or ())
    if not response.get("IsTruncated"):
        return FolderPage(keys, None)
    # The page holds files and sub-folders in key order: it is complete up to its last entry.
    last = [*keys, *(common["Prefix"] for common in response.get("CommonPrefixes") or ())]
    return FolderPage(keys, max(last, default=""))


async def key_exists(bucket: Bucket, key: str) -> bool:
    """Whether `key` exists, asked as a one-key listing rather than a HEAD: a HEAD answered
    404 makes aiohttp drop the connection, so checking N new keys opened N connections (a
    first sync was several times slower); a listing answers 200 either way."""
    response = await bucket.client.list_objects_v2(Bucket=bucket.name, Prefix=key, MaxKeys=1)
    contents = response.get("Contents") or []
    return bool(contents) and contents[0].get("Key") == key


def _retrieve(task: asyncio.Future[FolderPage]) -> None:
    """Mark a listing's failure as seen, should every check waiting for it have been cancelled."""
    if not task.cancelled():
        task.exception()
