"""`bmsync.s3.existence`: many existence checks answered by few folder listings, with a page's
truncation and age respected. A stand-in client answers ListObjectsV2 from a set of keys the
way S3 does (delimiter, MaxKeys, IsTruncated), so the count of listings is exact."""

from __future__ import annotations

import asyncio
from typing import Any

from bmsync.remotes import parse_remote_url
from bmsync.s3.bucket import Bucket
from bmsync.s3.existence import ExistenceChecks


class ListingClient:
    def __init__(self, keys: set[str], page: int = 1000) -> None:
        self.keys = keys
        self.page = page
        self.calls: list[dict[str, Any]] = []

    async def list_objects_v2(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        await asyncio.sleep(0)
        prefix, limit = kw["Prefix"], min(kw.get("MaxKeys", 1000), self.page)
        entries: dict[str, bool] = {}  # name -> is a common prefix
        for key in sorted(k for k in self.keys if k.startswith(prefix)):
            rest = key[len(prefix) :]
            if kw.get("Delimiter") == "/" and "/" in rest:
                entries[prefix + rest.split("/")[0] + "/"] = True
            else:
                entries[key] = False
        names = sorted(entries)
        shown = names[:limit]
        return {
            "Contents": [{"Key": n} for n in shown if not entries[n]],
            "CommonPrefixes": [{"Prefix": n} for n in shown if entries[n]],
            "IsTruncated": len(names) > limit,
        }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def checks(client: ListingClient, clock: Clock) -> ExistenceChecks:
    bucket = Bucket(client, parse_remote_url("s3://b/p"))
    return ExistenceChecks(bucket, max_age_s=1.0, clock=clock)


async def test_one_listing_answers_every_check_in_a_folder_for_a_second() -> None:
    client, clock = ListingClient({"p/a/1.md", "p/a/sub/2.md", "p/b/3.md"}), Clock()
    existence = checks(client, clock)
    found = await asyncio.gather(
        *(existence.exists(k) for k in ["p/a/1.md", "p/a/2.md", "p/a/sub", "p/b/3.md"])
    )
    assert found == [True, False, False, True]
    assert len(client.calls) == 2  # p/a/ and p/b/
    client.keys.add("p/a/new.md")
    assert not await existence.exists("p/a/new.md")  # within the second: the old page
    clock.now = 1.5
    assert await existence.exists("p/a/new.md")  # a fresh listing
    assert len(client.calls) == 3


async def test_keys_past_a_truncated_page_are_checked_one_by_one() -> None:
    client, clock = ListingClient({f"p/{i}.md" for i in range(10)}, page=4), Clock()
    existence = checks(client, clock)
    assert await existence.exists("p/1.md")  # on the first page (0, 1, 2, 3)
    assert not await existence.exists("p/2x.md")  # before its end: the page answers
    assert len(client.calls) == 1
    assert await existence.exists("p/8.md")  # past its end: a one-key listing
    assert client.calls[-1] == {"Bucket": "b", "Prefix": "p/8.md", "MaxKeys": 1}
