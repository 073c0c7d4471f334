"""Unit tests of the pure S3 key and metadata translations (bmsync/s3/keys.py)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmsync.s3.keys import (
    InvalidKey,
    is_folder_marker,
    is_trash_key,
    key_for,
    list_prefix,
    metadata_mtime_to_ns,
    normalise_etag,
    ns_to_metadata_mtime,
    quote_etag,
    read_user_metadata,
    relkey_of,
    relkey_to_path,
    trash_key,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

# -- relkey_to_path -------------------------------------------------------------------------


@pytest.mark.parametrize("relkey", ["a.md", "dir/sub/a b.md", "ünïcödé/ß.md", "a" * 255, ".hidden"])
def test_valid_key_is_its_own_path(relkey: str) -> None:
    assert relkey_to_path(relkey) == relkey


def test_nfd_key_becomes_nfc_path() -> None:
    nfd = unicodedata.normalize("NFD", "café/résumé.md")
    assert nfd != "café/résumé.md"
    assert relkey_to_path(nfd) == "café/résumé.md"


@pytest.mark.parametrize(
    ("relkey", "reason_part"),
    [
        ("", "empty"),
        ("/a.md", "empty path segment"),
        ("a//b.md", "empty path segment"),
        ("a/", "empty path segment"),
        (".", "'.'"),
        ("a/./b.md", "'.'"),
        ("..", "'..'"),
        ("a/../../etc/passwd", "'..'"),
        ("a\\..\\b.md", "backslash"),
        ("a\x00b.md", "U+0000"),
        ("a\nb.md", "U+000A"),
        ("a\x1fb.md", "U+001F"),
        ("a\x7fb.md", "U+007F"),
        ("a" * 256, "255 bytes"),
        ("é" * 128, "255 bytes"),  # 128 characters, 256 UTF-8 bytes
    ],
)
def test_hostile_key_is_rejected(relkey: str, reason_part: str) -> None:
    result = relkey_to_path(relkey)
    assert isinstance(result, InvalidKey)
    assert reason_part in result.reason


@given(st.text(min_size=1))
def test_accepted_paths_are_safe_nfc(relkey: str) -> None:
    result = relkey_to_path(relkey)
    if isinstance(result, InvalidKey):
        return
    assert result == unicodedata.normalize("NFC", result)
    parts = result.split("/")
    assert all(part not in ("", ".", "..") for part in parts)
    assert not any(ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in result)


def test_folder_marker() -> None:
    assert is_folder_marker("a/")
    assert not is_folder_marker("a")


# -- keys and prefixes ----------------------------------------------------------------------


def test_key_for_and_relkey_of() -> None:
    assert key_for("notes", "a/b.md") == "notes/a/b.md"
    assert key_for("", "a/b.md") == "a/b.md"
    assert relkey_of("notes/a/b.md", "notes") == "a/b.md"
    assert relkey_of("notes-old/a.md", "notes") is None
    assert relkey_of("a.md", "") == "a.md"
    assert list_prefix("notes") == "notes/"
    assert list_prefix("") == ""


def test_trash_key_lives_outside_the_prefix() -> None:
    assert trash_key("notes", "run1", "a/b.md") == ".bmsync-trash/notes/run1/a/b.md"
    assert trash_key("", "run1", "a.md") == ".bmsync-trash/run1/a.md"
    assert is_trash_key(".bmsync-trash/run1/a.md")
    assert not is_trash_key(".bmsync-trashcan/a.md")


# -- mtime metadata -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1700000000.123456789", 1_700_000_000_123_456_789),
        ("1700000000", 1_700_000_000_000_000_000),
        ("1700000000.5", 1_700_000_000_500_000_000),
        ("1700000000.", 1_700_000_000_000_000_000),
        (".5", 500_000_000),
        ("1700000000.1234567891", 1_700_000_000_123_456_789),  # rclone drops digits past 9
        ("-1.5", -1_500_000_000),
        (" 42 ", 42_000_000_000),
    ],
)
def test_mtime_metadata_parses(text: str, ns: int) -> None:
    assert metadata_mtime_to_ns(text) == ns


@pytest.mark.parametrize(
    "text", ["", " ", "abc", "1e9", "1.2.3", "+5", "nan", "inf", "0x10", "1_000", "9" * 30]
)
def test_unparseable_mtime_is_none(text: str) -> None:
    assert metadata_mtime_to_ns(text) is None


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (1_354_040_105_123_456_789, "1354040105.123456789"),  # rclone's documented example
        (1_700_000_000_000_000_000, "1700000000"),
        (1_700_000_000_100_000_000, "1700000000.1"),
        (5, "0.000000005"),
        (0, "0"),
        (-1_500_000_000, "-1.5"),
    ],
)
def test_mtime_metadata_is_written_like_rclone(ns: int, text: str) -> None:
    assert ns_to_metadata_mtime(ns) == text


@given(INT64)
def test_mtime_round_trips(ns: int) -> None:
    assert metadata_mtime_to_ns(ns_to_metadata_mtime(ns)) == ns


@given(st.integers(min_value=0, max_value=9_000_000_000), st.text("0123456789", max_size=9))
def test_mtime_parse_is_exact_decimal(seconds: int, decimals: str) -> None:
    text = f"{seconds}.{decimals}"
    assert metadata_mtime_to_ns(text) == int(Decimal(text) * 10**9)


# -- ETags and user metadata ----------------------------------------------------------------


def test_etags() -> None:
    assert normalise_etag('"abc"') == "abc"
    assert normalise_etag("abc") == "abc"
    assert quote_etag("abc") == '"abc"'
    assert quote_etag('"abc"') == '"abc"'


def test_user_metadata_keys_are_case_insensitive() -> None:
    # rclone's server answers `Mtime` / `Xxh3` whatever case was sent.
    meta = {"Mtime": "1700000000.5", "Xxh3": "00FF"}
    assert read_user_metadata(meta) == (1_700_000_000_500_000_000, "00ff")


def test_user_metadata_missing_or_garbled() -> None:
    assert read_user_metadata({}) == (None, None)
    assert read_user_metadata({"mtime": "yesterday", "xxh3": "not-hex"}) == (None, None)
