"""Listing the prefix: ListObjectsV2, paginated, into a `RemoteListing`.

A run lists once and trusts that listing, so any failure to list stops the run
(`bmsync.s3.errors.listing_error`): an object missing from the listing would look deleted.
A key that cannot be a safe, unique local path is rejected (reported, never synced). Zero-byte
folder markers (`a/b/`) are kept apart from the files, for runs that keep markers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from bmsync.s3.bucket import Bucket
from bmsync.s3.errors import TRANSPORT_ERRORS, listing_error
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


async def list_objects(bucket: Bucket) -> RemoteListing:
    """Every object below the prefix (flat, paginated); any failure stops the run."""
    builder = ListingBuilder(bucket.prefix)
    action = f"listing {bucket.location.url}"
    try:
        paginator = bucket.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=bucket.name, Prefix=list_prefix(bucket.prefix))
        async for page in pages:
            for entry in page.get("Contents", ()):
                builder.add(entry)
    except (ClientError, *TRANSPORT_ERRORS) as err:
        raise listing_error(err, bucket=bucket.name, action=action) from err
    return builder.listing()


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
        alone, as it always was). A marker no local folder could be named after is skipped
        silently, as every marker was before runs kept them; of two spellings of one folder
        the NFC one is kept."""
        if int(entry.get("Size", 0)) != 0:
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
        )


def _raw(relkey: str, path: str) -> str:
    return relkey if relkey != path else ""
