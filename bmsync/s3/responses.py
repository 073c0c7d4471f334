"""What S3's answers say about an object: identities from HEAD, GET and PUT responses, and
timestamps in the nanoseconds the rest of bmsync counts in. Pure: no requests."""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bmsync.s3.dates import fast_parse
from bmsync.s3.integrity import etag_is_opaque
from bmsync.s3.keys import normalise_etag, read_user_metadata
from bmsync.types import RemoteMeta, storable_ns


@dataclass(frozen=True, slots=True)
class Stored:
    """What a write's response told us about the object it made."""

    etag: str
    last_modified_ns: int
    opaque: bool
    """The ETag is no MD5 (SSE-KMS, SSE-C): it proves nothing about the content."""


def meta_from_response(response: Mapping[str, Any]) -> RemoteMeta:
    """The identity and metadata in a HEAD's or GET's answer."""
    mtime_ns, xxh3 = read_user_metadata(response.get("Metadata") or {})
    return RemoteMeta(
        etag=normalise_etag(response.get("ETag", "")),
        size=int(response.get("ContentLength", 0)),
        last_modified_ns=to_ns(response.get("LastModified")),
        mtime_ns=mtime_ns,
        xxh3=xxh3,
    )


def stored_from_response(response: Mapping[str, Any]) -> Stored:
    """What a PUT's or CompleteMultipartUpload's answer says about the object it made."""
    return Stored(
        etag=normalise_etag(response.get("ETag", "")),
        last_modified_ns=_response_date_ns(response),
        opaque=etag_is_opaque(response),
    )


def _response_date_ns(response: Mapping[str, Any]) -> int:
    """When the server answered a PUT (its `Date`), which has no LastModified field; our own
    clock if there is no usable Date header. Only second precision, which is all S3 keeps."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    date = headers.get("date")
    if date:
        if (fast := fast_parse(date)) is not None:
            return to_ns(fast)
        with contextlib.suppress(TypeError, ValueError):
            return to_ns(email.utils.parsedate_to_datetime(date))
    return time.time_ns()


def to_ns(moment: datetime | None) -> int:
    """Nanoseconds since the epoch, in integers (a float would lose the last digits); our own
    clock when the answer gave no time. Clamped like a local file's times (`storable_ns`): a
    server answers with the time of the file it serves (`rclone serve s3`: up to 2446 on ext4)
    or up to 9999, which no download could set on a file and no snapshot could store."""
    if moment is None:
        return time.time_ns()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return storable_ns((delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000)
