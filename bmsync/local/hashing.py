"""Content hashes: xxh3-128 identifies content, MD5 only to compare with an S3 ETag."""

from __future__ import annotations

import hashlib
from pathlib import Path

import xxhash

CHUNK = 1 << 20


def new_hasher() -> xxhash.xxh3_128:
    return xxhash.xxh3_128()


def hash_file(path: Path) -> tuple[str, int]:
    """The xxh3-128 hex digest and the number of bytes read."""
    hasher = xxhash.xxh3_128()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
