"""`bmsync.s3.client`: what each run's client shares with the process's earlier ones."""

from __future__ import annotations

from bmsync.remotes import S3Config
from bmsync.s3.client import open_s3_client


async def test_clients_share_one_data_loader_per_process() -> None:
    """A process that syncs again and again (basic-memory, `bmsync watch`) reads and parses the
    S3 service model once, not once per run."""
    config = S3Config(
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        access_key_id="k",
        secret_access_key="s",
    )
    async with open_s3_client(config) as first, open_s3_client(config) as second:
        assert first is not second
        assert first._loader is second._loader  # botocore keeps the session's loader here
