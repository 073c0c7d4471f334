"""Unit tests of the S3 side's small pure pieces: remote URLs, S3Config, ETag verdicts and the
translation of botocore errors into bmsync's."""

from __future__ import annotations

import email.utils
import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.digests import EtagShape, etag_shape
from bmsync.errors import (
    BucketNotFoundError,
    ConfigError,
    RemoteAuthError,
    RemoteError,
    RemoteUrlError,
)
from bmsync.remotes import RemoteLocation, S3Config, parse_remote_url
from bmsync.s3 import dates
from bmsync.s3.client import open_s3_client, parse_timestamp
from bmsync.s3.error_map import translate_client_error
from bmsync.s3.integrity import ContentDigest, PartDigester, etag_verdict

# -- s3:// URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://bucket/notes", "bucket", "notes"),
        ("s3://bucket/a/b/", "bucket", "a/b"),
        ("S3://my.bucket-1/x", "my.bucket-1", "x"),
    ],
)
def test_remote_url_parses(url: str, bucket: str, prefix: str) -> None:
    assert parse_remote_url(url) == RemoteLocation(bucket, prefix)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "bucket/prefix",
        "http://bucket/prefix",
        "s3://",
        "s3:///prefix",
        "s3://bucket//a",
        "s3://bucket/a//b",
        "s3://bucket/a/../b",
        "s3://bucket/./a",
        "s3://bucket/a\\b",
        "s3://bucket/a\nb",
        "s3://bucket/.bmsync-trash/x",
    ],
)
def test_bad_remote_url_says_the_expected_form(url: str) -> None:
    with pytest.raises(RemoteUrlError, match="s3://BUCKET/PREFIX"):
        parse_remote_url(url)


def test_location_url() -> None:
    assert RemoteLocation("b", "").url == "s3://b"
    assert RemoteLocation("b", "a/b").url == "s3://b/a/b"


# -- S3Config -------------------------------------------------------------------------------


def test_config_repr_hides_secrets_and_header_values() -> None:
    config = S3Config(
        access_key_id="AKIDEXAMPLE",
        secret_access_key="s3cr3t-value",
        session_token="t0ken-value",
        headers={"X-Proxy-Token": "pr0xy-value"},
    )
    text = repr(config) + str(config)
    assert "AKIDEXAMPLE" in text
    assert "X-Proxy-Token" in text
    for secret in ("s3cr3t-value", "t0ken-value", "pr0xy-value"):
        assert secret not in text


def test_config_headers_are_a_frozen_copy() -> None:
    headers = {"X-A": "1"}
    config = S3Config(headers=headers)
    headers["X-B"] = "2"
    assert dict(config.headers) == {"X-A": "1"}
    assert hash(config) == hash(S3Config(headers={"X-Other": "3"}))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"access_key_id": "only-the-id"},
        {"secret_access_key": "only-the-secret"},
        {"addressing_style": "sideways"},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"Authorization": "x"}},
        {"headers": {"X-A": "line\r\nbreak"}},
    ],
)
def test_invalid_config_is_a_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        S3Config(**kwargs)  # type: ignore[arg-type]


# -- ETag verdicts --------------------------------------------------------------------------

DATA = b"hello world"
MD5 = hashlib.md5(DATA).hexdigest()


def test_single_part_etag_verdicts() -> None:
    digest = ContentDigest(MD5)
    assert etag_verdict(MD5, digest) is True
    assert etag_verdict("0" * 32, digest) is False
    assert etag_verdict("some-opaque-tag", digest) is None


def test_multipart_etag_verdicts() -> None:
    digester = PartDigester()
    parts = [b"a" * 10, b"b" * 5]
    for part in parts:
        digester.add_part(part)
    digest = digester.digest()
    composite = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert digest.composite == f"{composite}-2"
    assert digest.md5_hex == hashlib.md5(b"".join(parts)).hexdigest()
    assert etag_verdict(f"{composite}-2", digest) is True
    assert etag_verdict(digest.md5_hex, digest) is True  # rclone lists the whole-content MD5
    assert etag_verdict(f"{composite}-3", digest) is False
    assert etag_verdict("0" * 32, digest) is None  # a store's own scheme: proves nothing


@pytest.mark.parametrize(
    ("etag", "shape"),
    [
        (MD5, EtagShape.MD5),
        (f"{MD5}-12", EtagShape.COMPOSITE),
        (MD5.upper(), EtagShape.OPAQUE),  # callers lower an ETag that may be upper-case
        (f"{MD5}-", EtagShape.OPAQUE),
        (MD5[:-1], EtagShape.OPAQUE),
        (f'"{MD5}"', EtagShape.OPAQUE),  # quoted: normalise first
        ("some-opaque-tag", EtagShape.OPAQUE),
        ("", EtagShape.OPAQUE),
    ],
)
def test_etag_shapes(etag: str, shape: EtagShape) -> None:
    assert etag_shape(etag) is shape


# -- error translation ----------------------------------------------------------------------


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "ListObjectsV2")


@pytest.mark.parametrize(
    ("code", "status", "hint"),
    [
        ("InvalidAccessKeyId", 403, "access key ID"),
        ("SignatureDoesNotMatch", 403, "secret access key"),
        ("AccessDenied", 403, "refused access"),
        ("ExpiredToken", 400, "expired"),
        ("403", 403, "refused access"),  # HEAD answers carry no error code
        ("Unauthorized", 401, "refused access"),
    ],
)
def test_auth_failures_become_remote_auth_error(code: str, status: int, hint: str) -> None:
    err = translate_client_error(_client_error(code, status), bucket="b", action="listing s3://b")
    assert isinstance(err, RemoteAuthError)
    assert hint in str(err)
    assert "listing s3://b" in str(err)


def test_no_such_bucket() -> None:
    err = translate_client_error(_client_error("NoSuchBucket", 404), bucket="b", action="listing")
    assert isinstance(err, BucketNotFoundError)
    assert "'b'" in str(err)


def test_missing_credentials_say_what_to_set() -> None:
    err = translate_client_error(NoCredentialsError(), bucket="b", action="listing")
    assert isinstance(err, RemoteAuthError)
    assert "AWS_ACCESS_KEY_ID" in str(err)


def test_unreachable_endpoint() -> None:
    cause = EndpointConnectionError(endpoint_url="http://127.0.0.1:1/b")
    err = translate_client_error(cause, bucket="b", action="listing")
    assert isinstance(err, RemoteError)
    assert "could not be reached" in str(err)
    assert "http://127.0.0.1:1/b" in str(err)


def test_read_timeout_is_a_remote_error() -> None:
    cause = ReadTimeoutError(endpoint_url="http://127.0.0.1:1/b")
    assert isinstance(translate_client_error(cause, bucket="b", action="x"), RemoteError)


@pytest.mark.parametrize(("code", "status"), [("InternalError", 500), ("NoSuchKey", 404)])
def test_per_request_failures_are_not_translated(code: str, status: int) -> None:
    assert translate_client_error(_client_error(code, status), bucket="b", action="x") is None


# -- opening a client -----------------------------------------------------------------------


async def test_malformed_endpoint_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="endpoint URL"):
        async with open_s3_client(S3Config(endpoint_url="not a url", region="us-east-1")):
            pass


async def test_unknown_profile_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="no-such-profile"):
        async with open_s3_client(S3Config(aws_profile="no-such-profile", region="us-east-1")):
            pass


# -- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-23T10:15:00.000Z",  # AWS, moto
        "2026-11-23T16:46:01.369Z",  # rclone
        "2026-11-23T10:15:00Z",
        "2026-11-23T10:15:00.123456Z",
        "2026-11-23T10:15:00+02:00",
        "2026-11-23T10:15:00.1234567Z",  # 7 digits: not the fast path
        "Mon, 23 Nov 2026 10:15:00 GMT",  # HEAD's Last-Modified
        "1700000000",
        1700000000,
    ],
)
def test_timestamps_parse_as_botocore_parses_them(value: object) -> None:
    assert parse_timestamp(value) == botocore_parse_timestamp(value)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)))
def test_http_dates_match_botocore(moment: datetime) -> None:
    """Last-Modified of GET and HEAD answers (RFC 9110's IMF-fixdate), through the fast path."""
    text = format_datetime(moment.replace(microsecond=0, tzinfo=UTC), usegmt=True)
    assert dates.HTTP_DATE.match(text), text
    ours = parse_timestamp(text)
    assert ours == botocore_parse_timestamp(text) and ours.utcoffset() is not None
    # A PUT's `Date` takes the same path (`responses`), where email.utils read it before.
    assert dates.fast_parse(text) == email.utils.parsedate_to_datetime(text)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    st.sampled_from(["Z", "+00:00", "-05:30"]),
    st.sampled_from([0, 3, 6]),
)
def test_iso_timestamps_match_botocore(moment: datetime, zone: str, digits: int) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    text += zone
    ours = parse_timestamp(text)
    assert ours == botocore_parse_timestamp(text) and ours.utcoffset() is not None
