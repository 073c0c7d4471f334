"""Content digests, and what the shape of an S3 ETag says about the bytes behind it.

xxh3-128 identifies content everywhere bmsync keeps a hash: the scan, the snapshot, the `xxh3`
metadata of the objects it writes, and the checks around every transfer. Every such hasher comes
from `new_hasher`, so the algorithm is named once. MD5 is used only because S3 ETags are built
from it, and only to compare with one (`new_md5`).

ETags are MD5-based by convention only. `etag_shape` is the one place that tells their forms
apart: a single PUT's ETag is the content's MD5 (32 hex digits), a multipart upload's is
`<md5 of the part digests>-<part count>`, and anything else (SSE-KMS and SSE-C objects, stores
with their own scheme) is opaque.
"""

from __future__ import annotations

import enum
import hashlib
import re
from typing import Protocol

import xxhash


class Hasher(Protocol):
    """What `new_hasher` and `new_md5` hand out."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def new_hasher() -> Hasher:
    """An empty xxh3-128 hasher."""
    return xxhash.xxh3_128()


def new_md5(data: bytes = b"") -> Hasher:
    """An MD5 hasher fed `data`, for comparing with ETags. MD5 secures nothing here, and saying
    so lets Python builds that refuse MD5 for security (FIPS) still hand it out."""
    return hashlib.md5(data, usedforsecurity=False)


class EtagShape(enum.Enum):
    MD5 = "md5"
    """32 lowercase hex digits: the MD5 of the whole content (a single PUT)."""
    COMPOSITE = "composite"
    """`<32 hex>-<parts>`: the MD5 of the part digests of a multipart upload."""
    OPAQUE = "opaque"
    """Anything else: says nothing about the content."""


_ETAG = re.compile(r"^[0-9a-f]{32}(-[0-9]+)?$")


def etag_shape(etag: str) -> EtagShape:
    """The form of an unquoted ETag; uppercase hex is opaque (lower it first if it may be)."""
    match = _ETAG.match(etag)
    if match is None:
        return EtagShape.OPAQUE
    return EtagShape.COMPOSITE if match.group(1) else EtagShape.MD5
