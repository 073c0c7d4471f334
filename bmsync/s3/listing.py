"""Listing the prefix: ListObjectsV2, paginated, into a `RemoteListing`.

A run lists once and trusts that listing, so any failure to list stops the run
(`bmsync.s3.error_map.listing_error`): an object missing from the listing would look deleted.
A key that cannot be a safe, unique local path is rejected (reported, never synced). Zero-byte
folder markers (`a/b/`) are kept apart from the files, for runs that keep markers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from bmsync.names import DATA_IN_FOLDER_KEY
from bmsync.remotes import TRASH_PREFIX
from bmsync.s3.bucket import Bucket
from bmsync.s3.error_map import TRANSPORT_ERRORS, listing_error
from bmsync.s3.keys import (
    InvalidKey,
    is_folder_marker,
    is_trash_key,
    key_for,
    list_prefix,
    normalise_etag,
    relkey_of,
    relkey_to_path,
)
from bmsync.s3.responses import to_ns
from bmsync.types import FolderMarker, RejectedKey, RemoteListing, RemoteObject

SPLIT_AFTER_PAGES = 5
"""Pages listed one after the other before a prefix counts as large and the rest is split."""
FOLDER_LISTINGS_AT_ONCE = 8


async def list_objects(bucket: Bucket) -> RemoteListing:
    """Every object below the prefix (flat, paginated); any failure stops the run.

    Pages follow each other, each waiting for the last: 100 round trips for 100,000 keys. So a
    prefix still not listed after `SPLIT_AFTER_PAGES` pages is split: one delimiter page of the
    top level gives its files and folders, and the folders not yet listed are listed
    concurrently (`FOLDER_LISTINGS_AT_ONCE`). The rule in requests: up to 5,000 keys, exactly
    ceil(N/1000) pages; beyond, one top-level page more and each remaining folder's own pages.
    A top level of more than 1000 entries (a flat prefix) is not split: it goes on page by page.
    """
    builder = ListingBuilder(bucket.prefix)
    action = f"listing {bucket.location.url}"
    start = list_prefix(bucket.prefix)
    try:
        token: str | None = None
        last = ""
        for _ in range(SPLIT_AFTER_PAGES):
            page = await _page(bucket, start, token)
            for entry in page.get("Contents", ()):
                builder.add(entry)
                last = entry["Key"]
            if not page.get("IsTruncated"):
                return builder.listing()
            token = page["NextContinuationToken"]
        for entry in await _rest(bucket, start, last, token):
            builder.add(entry)
    except (ClientError, *TRANSPORT_ERRORS) as err:
        raise listing_error(err, bucket=bucket.name, action=action) from err
    return builder.listing()


async def _page(bucket: Bucket, prefix: str, token: str | None, **extra: str) -> Mapping[str, Any]:
    more = {"ContinuationToken": token} if token else {}
    page: Mapping[str, Any] = await bucket.client.list_objects_v2(
        Bucket=bucket.name, Prefix=prefix, **more, **extra
    )
    return page


async def _rest(bucket: Bucket, start: str, after: str, token: str | None) -> list[Any]:
    """The entries after the key `after`, in key order: split by top-level folder when the top
    level fits one delimiter page, else page by page from `token`."""
    top = await _page(bucket, start, None, Delimiter="/")
    folders = [
        common["Prefix"]
        for common in top.get("CommonPrefixes", ())
        if (common["Prefix"] > after or after.startswith(common["Prefix"]))
        and not (not start and is_trash_key(common["Prefix"].rstrip("/")))
    ]
    if top.get("IsTruncated") or len(folders) < 2:
        return await _all_pages(bucket, start, token, after)
    gate = asyncio.Semaphore(FOLDER_LISTINGS_AT_ONCE)

    async def folder(prefix: str) -> list[Any]:
        # The folder holding `after` was partly listed already: the server may skip that part
        # (a server ignoring StartAfter still only adds keys that `after` filters out).
        skip = {"StartAfter": after} if after.startswith(prefix) else {}
        async with gate:
            return await _all_pages(bucket, prefix, None, after, **skip)

    files = [_slim(entry) for entry in top.get("Contents", ()) if entry["Key"] > after]
    try:
        async with asyncio.TaskGroup() as group:
            listed = [group.create_task(folder(prefix)) for prefix in folders]
    except* (ClientError, *TRANSPORT_ERRORS) as failures:
        raise failures.exceptions[0] from None  # the others were cancelled
    return sorted([*files, *(entry for task in listed for entry in task.result())], key=_key)


async def _all_pages(
    bucket: Bucket, prefix: str, token: str | None, after: str, **extra: str
) -> list[Any]:
    """Every entry below `prefix` from `token` on (or from the start), keeping keys past
    `after` (those up to it are listed already). `extra` goes with the first page only (a
    continuation token carries the rest)."""
    entries: list[Any] = []
    while True:
        page = await _page(bucket, prefix, token, **({} if token else extra))
        entries.extend(_slim(entry) for entry in page.get("Contents", ()) if entry["Key"] > after)
        if not page.get("IsTruncated"):
            return entries
        token = page["NextContinuationToken"]


_KEPT_FIELDS = ("Key", "Size", "ETag", "LastModified")


def _slim(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What `ListingBuilder.add` reads of an entry. The rest of a listing is held until every
    folder is listed (to be added in key order), and botocore's entry (owner, storage class,
    checksum fields) is about twice the size: at 100,000 keys, tens of MB of peak memory."""
    return {name: entry[name] for name in _KEPT_FIELDS if name in entry}


def _key(entry: Mapping[str, Any]) -> str:
    key: str = entry["Key"]
    return key


async def list_folders(bucket: Bucket) -> list[str]:
    """The names of the folders directly below the prefix (one delimiter listing per 1000):
    the projects of a bucket that holds one per top-level folder. bmsync's own trash folder and
    names no local folder could have are left out."""
    action = f"listing the folders of {bucket.location.url}"
    start = list_prefix(bucket.prefix)
    names: list[str] = []
    try:
        paginator = bucket.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=bucket.name, Prefix=start, Delimiter="/")
        async for page in pages:
            for common in page.get("CommonPrefixes", ()):
                name = common["Prefix"][len(start) :].rstrip("/")
                if is_trash_key(common["Prefix"].rstrip("/")):
                    continue
                if not isinstance(relkey_to_path(name), InvalidKey) and "/" not in name:
                    names.append(name)
    except (ClientError, *TRANSPORT_ERRORS) as err:
        raise listing_error(err, bucket=bucket.name, action=action) from err
    return sorted(names)


class ListingBuilder:
    """Collects listed keys into a `RemoteListing`, rejecting what cannot be a local path."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._objects: dict[str, RemoteObject] = {}
        self._rejected: list[RejectedKey] = []
        self._folders: dict[str, FolderMarker] = {}
        self._prefix_marked = not prefix

    def add(self, entry: Mapping[str, Any]) -> None:
        key: str = entry["Key"]
        relkey = relkey_of(key, self._prefix)
        if relkey is None:
            return
        if not self._prefix and is_trash_key(key):
            return
        if relkey == "" or is_folder_marker(relkey):
            self._add_marker(relkey, entry)
            return
        path = relkey_to_path(relkey)
        if isinstance(path, InvalidKey):
            self._rejected.append(RejectedKey(key, path.reason))
            return
        self._keep(
            RemoteObject(
                path=path,
                size=int(entry.get("Size", 0)),
                etag=normalise_etag(entry.get("ETag", "")),
                last_modified_ns=to_ns(entry.get("LastModified")),
                raw_relkey=_raw(relkey, path),
            )
        )

    def _keep(self, obj: RemoteObject) -> None:
        """Two keys spelling one NFC path (`café` in NFC and NFD) would be one local file: the
        NFC-spelled key wins (else the first listed), the other is rejected."""
        other = self._objects.get(obj.path)
        if other is None:
            self._objects[obj.path] = obj
            return
        keep, drop = (obj, other) if obj.raw_relkey == "" else (other, obj)
        self._objects[obj.path] = keep
        self._rejected.append(
            RejectedKey(
                key_for(self._prefix, drop.relkey),
                f"same name as {key_for(self._prefix, keep.relkey)!r} after Unicode "
                "normalisation (NFC); rename one of them",
            )
        )

    def _add_marker(self, relkey: str, entry: Mapping[str, Any]) -> None:
        """A key ending in `/`: a folder marker when it holds no data (one that does is left
        alone, and reported). A marker no local folder could be named after is skipped
        silently, as every marker was before runs kept them; of two spellings of one folder
        the NFC one is kept."""
        if int(entry.get("Size", 0)) != 0:
            self._rejected.append(RejectedKey(entry["Key"], DATA_IN_FOLDER_KEY))
            return
        if relkey == "":
            self._prefix_marked = True
            return
        folder = relkey[:-1]
        path = relkey_to_path(folder)
        if isinstance(path, InvalidKey):
            return
        marker = FolderMarker(path, normalise_etag(entry.get("ETag", "")), _raw(folder, path))
        other = self._folders.get(path)
        if other is None or (other.raw_relkey and not marker.raw_relkey):
            self._folders[path] = marker

    def listing(self) -> RemoteListing:
        return RemoteListing(
            objects=self._objects,
            rejected=tuple(self._rejected),
            folders=self._folders,
            prefix_marked=self._prefix_marked,
            reserved=() if self._prefix else (TRASH_PREFIX,),
        )


def _raw(relkey: str, path: str) -> str:
    return relkey if relkey != path else ""
