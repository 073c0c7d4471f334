"""`file_of_stat`: the one place a local file's stat becomes the engine's `LocalFile`.

The scan and a finished download both describe a file by its stat; going through one function
keeps the times in the form the snapshot stores (`bmsync.types.storable_ns`), so what was
scanned, what was stored and what the next scan compares are the same numbers.
"""

from __future__ import annotations

import os

from bmsync.types import LocalFile, storable_ns


def file_of_stat(path: str, info: os.stat_result, xxh3: str, disk_path: str = "") -> LocalFile:
    mtime_ns, ctime_ns = storable_ns(info.st_mtime_ns), storable_ns(info.st_ctime_ns)
    return LocalFile(path, info.st_size, mtime_ns, xxh3, disk_path, ctime_ns)
