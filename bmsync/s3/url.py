"""`s3://BUCKET/PREFIX` URLs: the one way a user names the remote side."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bmsync.errors import RemoteUrlError
from bmsync.s3.keys import TRASH_PREFIX

EXPECTED_FORM = "s3://BUCKET/PREFIX"

# Loose on purpose: real stores allow more than AWS's naming rules (dots, capitals on MinIO
# legacy buckets, underscores on some), and the server is the judge of what exists. Only what
# could never be a bucket in a URL path is refused here.
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


@dataclass(frozen=True, slots=True)
class RemoteLocation:
    bucket: str
    prefix: str
    """Without leading or trailing slash; empty for the whole bucket."""

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_remote_url(url: str) -> RemoteLocation:
    """`s3://bucket`, `s3://bucket/` and `s3://bucket/a/b/` are accepted; nothing else."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "s3":
        raise _bad(url, "it does not start with s3://")
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise _bad(url, "the bucket name is missing or invalid")
    prefix = prefix.removesuffix("/")
    parts = prefix.split("/") if prefix else []
    if any(part in ("", ".", "..") for part in parts):
        raise _bad(url, "the prefix has an empty, '.' or '..' path segment")
    if parts and parts[0] == TRASH_PREFIX:
        raise _bad(url, f"{TRASH_PREFIX}/ holds bmsync's remote trash and cannot be synced")
    if any(ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in prefix):
        raise _bad(url, "the prefix contains a control character or a backslash")
    return RemoteLocation(bucket=bucket, prefix=prefix)


def _bad(url: str, why: str) -> RemoteUrlError:
    return RemoteUrlError(f"Invalid remote URL {url!r}: {why}. Expected the form {EXPECTED_FORM}.")
