"""`bmsync.s3.fastparse`: listings parsed by a plan give exactly what botocore's parse gives.

Generated listing documents (odd keys, escapes, empty and missing elements, repeated and
unknown elements, namespaces, prologs) are parsed by both, and the answers must be equal; the
tests also check which path ran, so a plan that always stepped aside would fail them. Real
servers' listings are compared too, through a client with botocore's stock parser.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import botocore.parsers
import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.s3 import fastparse
from bmsync.s3.aio import AioSession
from bmsync.s3.client import open_s3_client, parse_timestamp
from tests.servers import S3TestServer

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
_MODEL = botocore.session.get_session().get_service_model("s3")
LISTING = _MODEL.operation_model("ListObjectsV2")

text = st.text(
    alphabet=st.characters(
        blacklist_characters="\x00\r",
        max_codepoint=0x2FFF,
    ).filter(lambda c: c.isprintable()),
    max_size=12,
)
times = st.sampled_from(
    ["2026-11-23T10:15:00.000Z", "2026-11-23T16:46:01.369Z", "Mon, 23 Nov 2026 10:15:00 GMT"]
)


def element(name: str, value: str | None) -> str:
    return f"<{name}/>" if value is None else f"<{name}>{escape(value)}</{name}>"


@st.composite
def entries(draw: st.DrawFn) -> str:
    parts = [element("Key", draw(text.filter(bool)))]
    parts.append(element("LastModified", draw(times)))
    parts.append(
        element("ETag", '"' + draw(st.text("0123456789abcdef", min_size=32, max_size=32)) + '"')
    )
    parts.append(element("Size", str(draw(st.integers(0, 2**40)))))
    if draw(st.booleans()):
        parts.append(element("StorageClass", draw(st.sampled_from(["STANDARD", "GLACIER", ""]))))
    for algorithm in draw(st.lists(st.sampled_from(["CRC32", "SHA256"]), max_size=2)):
        parts.append(element("ChecksumAlgorithm", algorithm))
    if draw(st.booleans()):
        owner = element("ID", draw(text)) + (
            element("DisplayName", draw(text)) if draw(st.booleans()) else "<DisplayName/>"
        )
        parts.append(f"<Owner>{owner}</Owner>")
    if draw(st.booleans()):
        restore = element("IsRestoreInProgress", draw(st.sampled_from(["true", "false"])))
        parts.append(f"<RestoreStatus>{restore}</RestoreStatus>")
    if draw(st.booleans()):
        parts.append("<SomethingNew>x<Inner>y</Inner></SomethingNew>")  # not in the model
    order = draw(st.permutations(parts))
    return "<Contents>" + "".join(order) + "</Contents>"


@st.composite
def listings(draw: st.DrawFn, repeat_a_scalar: bool = False) -> bytes:
    top = [draw(entries()) for _ in range(draw(st.integers(0, 6)))]
    for prefix in draw(st.lists(text, max_size=3)):
        top.append(f"<CommonPrefixes>{element('Prefix', prefix)}</CommonPrefixes>")
    top.append(element("Name", draw(text)))
    top.append(element("Prefix", draw(st.one_of(st.none(), text))))
    top.append(element("KeyCount", str(draw(st.integers(0, 1000)))))
    top.append(element("MaxKeys", "1000"))
    top.append(element("IsTruncated", draw(st.sampled_from(["true", "false"]))))
    if draw(st.booleans()):
        top.append(element("NextContinuationToken", draw(text.filter(bool))))
    if draw(st.booleans()):
        top.append(element("EncodingType", "url"))
    if draw(st.booleans()):
        top.append("<Unmodelled><Contents><Key>no</Key></Contents></Unmodelled>")
    if repeat_a_scalar:
        top.append(element("Name", "second"))
    body = "".join(draw(st.permutations(top)))
    prolog = '<?xml version="1.0" encoding="UTF-8"?>\n' if draw(st.booleans()) else ""
    namespace = " " + NS if draw(st.booleans()) else ""
    return f"{prolog}<ListBucketResult{namespace}>{body}</ListBucketResult>\n".encode()


def response(body: bytes) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"x-amz-request-id": "r"}, "body": body}


class Counting(fastparse.FastListingParser):
    """Counts the answers left to botocore's parse."""

    stepped_aside = 0

    def _parse_payload(self, response: Any, shape: Any, members: Any, final: Any) -> None:
        before = botocore.parsers.BaseRestParser._parse_payload
        calls = []

        def counted(*args: Any) -> None:
            calls.append(1)
            before(*args)

        botocore.parsers.BaseRestParser._parse_payload = counted
        try:
            super()._parse_payload(response, shape, members, final)
        finally:
            botocore.parsers.BaseRestParser._parse_payload = before
        Counting.stepped_aside += len(calls)


def both(body: bytes) -> tuple[Any, Any, int]:
    shape = LISTING.output_shape
    ours = Counting(timestamp_parser=parse_timestamp)
    theirs = botocore.parsers.RestXMLParser(timestamp_parser=parse_timestamp)
    before = Counting.stepped_aside
    mine = ours._do_parse(response(body), shape)
    return mine, theirs._do_parse(response(body), shape), Counting.stepped_aside - before


@settings(max_examples=300, deadline=None)
@given(listings())
def test_a_planned_parse_equals_botocores(body: bytes) -> None:
    mine, theirs, stepped_aside = both(body)
    assert mine == theirs
    assert stepped_aside == 0, "the plan stepped aside from a listing it should read"


@settings(max_examples=50, deadline=None)
@given(listings(repeat_a_scalar=True))
def test_a_repeated_scalar_is_left_to_botocore(body: bytes) -> None:
    """botocore's answer there is a list of XML elements (a quirk); whatever it is, it is
    botocore's."""
    mine, theirs, stepped_aside = both(body)
    assert stepped_aside == 1
    assert plain(mine) == plain(theirs)


def plain(value: Any) -> Any:
    """XML elements as (tag, text), so two parses of one document compare equal."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "tag"):
        return (value.tag, value.text)
    return value


def test_a_broken_document_gets_botocores_error() -> None:
    with pytest.raises(botocore.parsers.ResponseParserError):
        both(b"<ListBucketResult><Contents><Key>a</Key>")


def test_plans_exist_for_listings_and_not_for_shapes_they_cannot_read() -> None:
    assert fastparse.make_plan(LISTING.output_shape) is not None
    streamed = _MODEL.operation_model("SelectObjectContent").output_shape
    assert fastparse.make_plan(streamed) is None  # an event stream: not a plain structure


@pytest.mark.parametrize(
    ("body", "complete"),
    [
        (
            b'<?xml version="1.0"?>\n<ListBucketResult xmlns="x"><Name>b</Name></ListBucketResult>',
            True,
        ),
        (b"<ListBucketResult><Name>b</Name></ListBucketResult>\n\n", True),
        (b"<ListBucketResult><Name>b</Name><Contents><Key>a", False),  # cut short
        (b"<Error><Code>InternalError</Code></Error>", False),
        (b"", False),
    ],
)
def test_the_200_check_of_a_listing_reads_its_two_ends(body: bytes, complete: bool) -> None:
    assert fastparse.looks_like_listing(body) is complete
    answer = response(body)
    fastparse.handle_200_error(LISTING, answer)
    assert answer["status_code"] == (200 if complete else 500)


def test_other_operations_keep_botocores_200_check() -> None:
    copy = _MODEL.operation_model("CopyObject")
    answer = response(b"<Error><Code>InternalError</Code></Error>")
    fastparse.handle_200_error(copy, answer)
    assert answer["status_code"] == 500


ODD_KEYS = ["a b.md", "ü/é.md", "x&y<z>.md", "q?=%25.md", "deep/er/still/n.md", "'quote\".md"]


async def test_real_listings_parse_as_botocore_parses_them(
    s3_server: S3TestServer, bucket: str
) -> None:
    for key in ODD_KEYS:
        s3_server.client.put_object(Bucket=bucket, Key=f"p/{key}", Body=key.encode())
    config = s3_server.config
    stock = AioSession().create_client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
    )
    async with open_s3_client(config) as ours, stock as theirs:
        assert isinstance(ours.meta.events, type(theirs.meta.events))
        for extra in ({"Delimiter": "/"}, {"MaxKeys": 2}, {}):
            mine = await ours.list_objects_v2(Bucket=bucket, Prefix="p/", **extra)
            reference = await theirs.list_objects_v2(Bucket=bucket, Prefix="p/", **extra)
            for answer in (mine, reference):
                answer.pop("ResponseMetadata")
            assert mine == reference
    assert sorted(o["Key"] for o in mine["Contents"]) == sorted(f"p/{k}" for k in ODD_KEYS)
