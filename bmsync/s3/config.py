"""How to reach an S3 service: endpoint, region, credentials, extra headers.

Every field is optional: left out, botocore's usual chain applies (environment variables,
`~/.aws/config` and `~/.aws/credentials`, instance roles), so the same config works against AWS
and, with `endpoint_url`, against any S3-compatible store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bmsync.errors import ConfigError

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
