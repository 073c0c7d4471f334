"""What goes over the wire, checked on the requests themselves (real servers, both kinds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bmsync
from bmsync.s3.client import USER_AGENT
from bmsync.s3.remote import open_remote
from tests.servers import S3TestServer


async def test_no_request_waits_for_100_continue(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    """botocore asks for `Expect: 100-continue` on every PUT, one extra round trip each; bmsync
    turns that off (a first sync of many small notes over the internet pays it per file)."""
    root = tmp_path / "notes"
    root.mkdir()
    for i in range(5):
        (root / f"n{i}.md").write_text("x" * 3000)
    sent: list[tuple[str, dict[str, Any]]] = []
    url = f"s3://{bucket}/notes"
    async with open_remote(url, s3_server.config) as remote:

        def record(request: Any, **_: Any) -> None:
            sent.append((request.method, {k.lower(): v for k, v in request.headers.items()}))

        remote.client.meta.events.register("before-send.s3", record)
        report = await bmsync.sync_project(root, url, state_dir=tmp_path / "s", remote=remote)
    assert len(report.uploaded) == 5
    puts = [headers for method, headers in sent if method == "PUT"]
    assert len(puts) >= 5 and not [h for h in puts if "expect" in h]
    # A fixed User-Agent: botocore then stops rebuilding its own twice per request.
    agents = {bytes(headers.get("user-agent", b"")).decode() for _, headers in sent}
    assert len(agents) == 1 and agents.pop().startswith(f"{USER_AGENT} "), agents
