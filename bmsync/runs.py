"""Run ids: `YYYYMMDD-HHMMSS-<hex>` (UTC start time, then a random tag).

They name the trash folders on both sides, so the time a run started can be read back from the
name alone; trash retention relies on that rather than on file times, which a copy or a backup
tool may change.
"""

from __future__ import annotations

import re
import secrets
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
