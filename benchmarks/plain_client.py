"""The reference clients the benchmarks hold bmsync against: plain aiobotocore, no sync logic.

Run as a subprocess (like bmsync, so neither shares a process, or the GIL, with the benchmark's
latency relay); prints one JSON object on stdout:

    python benchmarks/plain_client.py list --endpoint URL --bucket B --prefix P --mode seq|split
        [--local DIR]
    python benchmarks/plain_client.py upload --endpoint URL --bucket B --key K --file F
        [--part-mib 8] [--parts-in-flight 2] [--content-md5]
    python benchmarks/plain_client.py download --endpoint URL --bucket B --key K --file F
        [--chunk-kib 1024]
    python benchmarks/plain_client.py put-all --endpoint URL --bucket B --prefix P --local DIR
        [--in-flight 32]

`list` is the floor of a no-change sync: every key below `prefix/`, either page after page
(`seq`) or one delimiter page of the top-level folders and then each folder's pages, all folders
at once (`split`); then, with `--local`, one `stat` of every file below DIR. `upload` is a
multipart upload with bmsync's `PART_BYTES` and `PARTS_IN_FLIGHT` (parts read in order, that
many sent at once); `download` one GET streamed to the file a chunk at a time (bmsync's
`CHUNK_BYTES`); `put-all` the floor of a first sync: one PutObject of every file below DIR
(read whole, with the Content-MD5 bmsync sends and no `Expect: 100-continue`, as bmsync sends
them), that many at once. The client is configured as bmsync's is where that changes the work
per request (checksums only when required, a fixed User-Agent, 32 pooled connections);
otherwise aiobotocore's defaults. The times exclude the interpreter's start, the imports and
building the client, but include opening connections.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.handlers import add_expect_header

REGION = "us-east-1"
ACCESS_KEY = "bmsync-bench-key"
SECRET_KEY = "bmsync-bench-secret"
POOL = 32
PAGE_KEYS = 1000


def client_config() -> AioConfig:
    return AioConfig(
        s3={"addressing_style": "path"},
        retries={"mode": "standard"},
        max_pool_connections=POOL,
        user_agent="bmsync-bench-plain",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


async def list_pages(client: Any, bucket: str, prefix: str) -> tuple[int, int]:
    """(keys, pages) below `prefix`, page after page."""
    keys = pages = 0
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix, MaxKeys=PAGE_KEYS):
        keys += len(page.get("Contents", ()))
        pages += 1
    return keys, pages


async def list_split(client: Any, bucket: str, prefix: str) -> tuple[int, int]:
    """(keys, pages): one delimiter listing of the top level, then every folder at once."""
    folders: list[str] = []
    keys = pages = 0
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        folders += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        keys += len(page.get("Contents", ()))
        pages += 1
    found = await asyncio.gather(*(list_pages(client, bucket, f) for f in folders))
    return keys + sum(k for k, _ in found), pages + sum(p for _, p in found)


def stat_all(root: Path) -> int:
    """One `stat` of every file below `root` (what a sync's scan must do at least)."""
    count = 0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


async def do_list(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    lister = list_pages if args.mode == "seq" else list_split
    start = time.perf_counter()
    keys, pages = await lister(client, args.bucket, args.prefix.rstrip("/") + "/")
    list_s = time.perf_counter() - start
    result: dict[str, Any] = {"list_s": list_s, "keys": keys, "pages": pages}
    if args.local is not None:
        start = time.perf_counter()
        result["files"] = stat_all(args.local)
        result["stat_s"] = time.perf_counter() - start
    return result


async def do_upload(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    part_bytes = args.part_mib << 20
    start = time.perf_counter()
    created = await client.create_multipart_upload(Bucket=args.bucket, Key=args.key)
    upload_id = created["UploadId"]
    etags: dict[int, str] = {}
    room = asyncio.Semaphore(args.parts_in_flight)

    async def send(number: int, data: bytes) -> None:
        extra = {}
        if args.content_md5:  # as bmsync sends it: the part's MD5, hashed off the event loop
            digest = await asyncio.to_thread(hashlib.md5, data)
            extra["ContentMD5"] = base64.b64encode(digest.digest()).decode("ascii")
        try:
            response = await client.upload_part(
                Bucket=args.bucket, Key=args.key, UploadId=upload_id, PartNumber=number, Body=data,
                **extra,
            )  # fmt: skip
            etags[number] = response["ETag"]
        finally:
            room.release()

    async with asyncio.TaskGroup() as group:
        with args.file.open("rb") as handle:
            number = 0
            while True:
                await room.acquire()
                data = handle.read(part_bytes)
                if not data:
                    room.release()
                    break
                number += 1
                group.create_task(send(number, data))
    parts = [{"ETag": etags[n], "PartNumber": n} for n in sorted(etags)]
    await client.complete_multipart_upload(
        Bucket=args.bucket, Key=args.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return {"transfer_s": time.perf_counter() - start, "parts": len(parts)}


async def do_put_all(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    client.meta.events.unregister("before-call.s3", add_expect_header)
    root: Path = args.local
    files = sorted(p for p in root.rglob("*") if p.is_file())
    room = asyncio.Semaphore(args.in_flight)
    prefix = args.prefix.rstrip("/")

    async def put(path: Path) -> None:
        async with room:
            data = path.read_bytes()
            md5 = base64.b64encode(hashlib.md5(data).digest()).decode("ascii")
            key = f"{prefix}/{path.relative_to(root).as_posix()}"
            await client.put_object(Bucket=args.bucket, Key=key, Body=data, ContentMD5=md5)

    start = time.perf_counter()
    await asyncio.gather(*(put(path) for path in files))
    return {"transfer_s": time.perf_counter() - start, "files": len(files)}


async def do_download(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    chunk = args.chunk_kib << 10
    start = time.perf_counter()
    response = await client.get_object(Bucket=args.bucket, Key=args.key)
    size = 0
    with args.file.open("wb") as handle:
        async with response["Body"] as body:
            while data := await body.read(chunk):
                handle.write(data)
                size += len(data)
    return {"transfer_s": time.perf_counter() - start, "bytes": size}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=args.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=client_config(),
    ) as client:
        action = {
            "list": do_list,
            "upload": do_upload,
            "download": do_download,
            "put-all": do_put_all,
        }[args.command]
        result: dict[str, Any] = await action(client, args)
        return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "upload", "download", "put-all"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--endpoint", required=True)
        cmd.add_argument("--bucket", required=True)
        if name == "put-all":
            cmd.add_argument("--prefix", required=True)
            cmd.add_argument("--local", type=Path, required=True)
            cmd.add_argument("--in-flight", type=int, default=32)
        elif name == "list":
            cmd.add_argument("--prefix", required=True)
            cmd.add_argument("--mode", choices=("seq", "split"), default="seq")
            cmd.add_argument("--local", type=Path, default=None)
        else:
            cmd.add_argument("--key", required=True)
            cmd.add_argument("--file", type=Path, required=True)
    sub.choices["upload"].add_argument("--part-mib", type=int, default=8)
    sub.choices["upload"].add_argument("--parts-in-flight", type=int, default=2)
    sub.choices["upload"].add_argument("--content-md5", action="store_true")
    sub.choices["download"].add_argument("--chunk-kib", type=int, default=1024)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(json.dumps(asyncio.run(main_async(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
