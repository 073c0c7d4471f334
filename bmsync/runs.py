"""Run ids: `YYYYMMDD-HHMMSS-<hex>` (UTC start time, then a random tag).

They name the trash folders on both sides, so the time a run started can be read back from the
name alone; trash retention relies on that rather than on file times, which a copy or a backup
tool may change.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

_RUN_ID = re.compile(r"^(\d{8}-\d{6})-[0-9a-f]{6}$")


def new_run_id(now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def run_started(run_id: str) -> datetime | None:
    """The start time encoded in a run id; None for any other name (left alone by purges)."""
    match = _RUN_ID.match(run_id)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=UTC)


def trash_runs(names: Iterable[str]) -> Iterator[tuple[str, datetime]]:
    """The names that are run ids, each with its run's start: the one way both trashes (a
    folder per run, locally and in the bucket) are read. Anything else in a trash folder
    (another project's trash below a bucket-root project's, a stray file) is never a run."""
    for name in names:
        started = run_started(name)
        if started is not None:
            yield name, started


def expired_runs(names: Iterable[str], older_than: datetime) -> list[str]:
    """The run ids among `names` of runs started before `older_than`: what retention empties."""
    return [name for name, started in trash_runs(names) if started < older_than]
