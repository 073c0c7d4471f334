"""What an ETag proves about the bytes behind it.

S3 ETags are MD5-based by convention only: a single PUT's ETag is the MD5 of the content, a
multipart upload's is `md5(concat(part MD5 digests))-<part count>`, and objects encrypted with
SSE-KMS or SSE-C have ETags that are no digest at all. Some stores (rclone's server among them)
answer CompleteMultipartUpload with the composite form but list the whole-content MD5. So an
ETag can prove the content right, prove it wrong, or say nothing, and the caller must know which.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bmsync.digests import EtagShape, etag_shape, new_md5

_OPAQUE_SSE = frozenset({"aws:kms", "aws:kms:dsse"})


@dataclass(frozen=True, slots=True)
class ContentDigest:
    md5_hex: str
    """MD5 of the whole content."""
    composite: str | None = None
    """`<md5 of part digests>-<parts>` when the content was sent as a multipart upload."""


def etag_verdict(etag: str, digest: ContentDigest) -> bool | None:
    """True when `etag` (unquoted) proves the content is `digest`'s, False when it proves it is
    not, None when this ETag shape says nothing about the content."""
    if etag in (digest.md5_hex, digest.composite):
        return True
    if digest.composite is None:
        # Sent whole: a 32-hex ETag is the content's MD5, anything else is opaque.
        return False if etag_shape(etag) is EtagShape.MD5 else None
    # Sent in parts: a composite ETag must be ours; a 32-hex one that is not the whole MD5 may be
    # a store's own scheme, so it proves nothing either way.
    return False if etag_shape(etag) is EtagShape.COMPOSITE else None


def etag_is_opaque(response: Mapping[str, Any]) -> bool:
    """Whether the response says the object is encrypted in a way that makes its ETag no MD5."""
    return (
        response.get("ServerSideEncryption") in _OPAQUE_SSE
        or response.get("SSECustomerAlgorithm") is not None
    )


_SIDE_BY_SIDE_BYTES = 1 << 20
"""Below this, a thread costs more than the hashing it would share."""


class PartDigester:
    """Accumulates the whole-content MD5 and the multipart composite while parts are sent."""

    def __init__(self) -> None:
        self._whole = new_md5()
        self._parts: list[bytes] = []

    def add_part(self, data: bytes) -> bytes:
        """Account for one part; returns its MD5 digest (for Content-MD5).

        The two digests of a large part run side by side: hashlib lets go of the GIL while it
        hashes a large buffer, so the whole-content MD5 goes to a short-lived thread while this
        one takes the part's (an 8 MiB part: two MD5s of about 17 ms each here, on two cores in
        the time of one). The thread allocates nothing large, so it holds no memory after."""
        if len(data) < _SIDE_BY_SIDE_BYTES:
            self._whole.update(data)
            part = new_md5(data).digest()
        else:
            whole = threading.Thread(target=self._whole.update, args=(data,), daemon=True)
            whole.start()
            try:
                part = new_md5(data).digest()
            finally:
                whole.join()
        self._parts.append(part)
        return part

    def digest(self) -> ContentDigest:
        combined = new_md5(b"".join(self._parts)).hexdigest()
        return ContentDigest(self._whole.hexdigest(), f"{combined}-{len(self._parts)}")
