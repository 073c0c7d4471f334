"""`--json` output is strict UTF-8 JSON even for names that are not UTF-8 (`cli/jsontext.py`)."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bmsync.cli import jsontext

# Text as a local scan can hand it over: any characters, plus bytes that are not UTF-8 (as
# `surrogateescape` makes them) and backslashes, which the escaping must keep apart.
names = st.lists(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(["\\", "\\x", "\\xe9", "\\u00e9"]),
        st.integers(0x80, 0xFF).map(lambda byte: chr(0xDC00 + byte)),
    )
).map("".join)


def strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for key, value in data.items() for s in strings(key) + strings(value)]
    if isinstance(data, list):
        return [s for item in data for s in strings(item)]
    return []


def test_a_name_that_is_not_utf8_is_written_escaped_and_reversibly() -> None:
    name = os.fsdecode(b"caf\xe9.md")
    text = jsontext.dumps({"warnings": [{"path": name, "message": f"{name}: not UTF-8"}]})
    assert "\\udce9" not in text
    data = json.loads(text.encode("utf-8"))
    assert data["warnings"][0]["path"] == "caf\\xe9.md"
    assert os.fsencode(jsontext.original(data["warnings"][0]["path"])) == b"caf\xe9.md"


@given(st.lists(names, max_size=4))
def test_every_output_is_strict_utf8_and_every_escaped_name_reverses(found: list[str]) -> None:
    text = jsontext.dumps({"paths": found, "by_name": {name: 1 for name in found}})
    data = json.loads(text.encode("utf-8"))
    for value in strings(data):
        value.encode("utf-8")  # no lone surrogate left anywhere
    for name, written in zip(found, data["paths"], strict=True):
        if written != name:
            assert jsontext.original(written) == name
    if not any("\udc80" <= c <= "\udcff" for name in found for c in name):
        assert text == json.dumps({"paths": found, "by_name": {name: 1 for name in found}})
