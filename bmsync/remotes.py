"""The remote side's address and settings: values every remote adapter shares.

A user names the remote with a URL (`s3://BUCKET/PREFIX`, parsed into a `RemoteLocation`) and
says how to reach it with an `S3Config` (endpoint, region, credentials, extra headers). Every
command takes both, the Cloud hands them out, and the adapter that talks to the store reads
them; so they live here, at the bottom, as plain frozen values with no client behind them, not
inside the S3 adapter (a WebDAV adapter takes the same location and its own settings).

`S3Config`: every field is optional. Left out, botocore's usual chain applies (environment
variables, `~/.aws/config` and `~/.aws/credentials`, instance roles), so the same config works
against AWS and, with `endpoint_url`, against any S3-compatible store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bmsync.errors import ConfigError, RemoteUrlError

TRASH_PREFIX = ".bmsync-trash"
"""Top-level folder of the bucket holding the remote copies kept before overwrite or delete; a
URL may not point into it."""

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


ADDRESSING_STYLES = ("auto", "path", "virtual")

# RFC 9110 `token`: what a header name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Headers botocore computes itself when it signs; a value set here would be overwritten or, worse,
# make the signature describe a request that is not the one sent.
_RESERVED_HEADERS = frozenset({"authorization", "host", "x-amz-date", "x-amz-content-sha256"})


@dataclass(frozen=True, repr=False)
class S3Config:
    endpoint_url: str | None = None
    """None for AWS; `http(s)://host:port` for any other S3-compatible service."""
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    aws_profile: str | None = None
    """A profile of `~/.aws/config`; ignored when both keys are given explicitly."""
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Sent with every request, listings included, and signed with it (some servers, such as
    `rclone serve s3`, refuse unsigned `x-amz-*` headers)."""
    verify_tls: bool = True
    addressing_style: str | None = None
    """`path`, `virtual` or `auto`; None leaves botocore's default."""

    def __post_init__(self) -> None:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ConfigError(
                "S3 credentials are incomplete: give both the access key ID and the secret "
                "access key, or neither to use the AWS environment/config chain."
            )
        if self.addressing_style is not None and self.addressing_style not in ADDRESSING_STYLES:
            raise ConfigError(
                f"Unknown S3 addressing style {self.addressing_style!r}: use one of "
                f"{', '.join(ADDRESSING_STYLES)}."
            )
        _check_headers(self.headers)
        # A private read-only copy, so a caller mutating its dict later cannot change what a
        # frozen config sends.
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    def __repr__(self) -> str:
        # Header values may carry tokens for a proxy in front of the store: show names only.
        shown = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "aws_profile": self.aws_profile,
            "headers": sorted(self.headers),
            "verify_tls": self.verify_tls,
            "addressing_style": self.addressing_style,
        }
        inner = ", ".join(f"{name}={value!r}" for name, value in shown.items())
        return f"S3Config({inner})"


def _check_headers(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ConfigError(f"Invalid HTTP header name {name!r} in the S3 headers.")
        if name.lower() in _RESERVED_HEADERS:
            raise ConfigError(
                f"The S3 header {name!r} is set by the request signer and cannot be overridden."
            )
        if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
            # The value is not quoted: it may be a secret.
            raise ConfigError(f"The value of S3 header {name!r} contains control characters.")
