"""The tenant's bucket and the S3 credentials to reach it: what `bm cloud setup` fetches.

`GET /tenant/mount/info` names the bucket; `POST /tenant/mount/credentials` mints an access
key scoped to it. Together with Tigris's endpoint they are an `S3Config`, and with a project's
prefix, an `s3://bucket/prefix` URL that `bmsync.sync_project` (and every other command)
takes as it takes any other remote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bmsync.errors import CloudError
from bmsync.remotes import S3Config

if TYPE_CHECKING:
    from bmsync.cloud.client import CloudClient

TIGRIS_ENDPOINT = "https://fly.storage.tigris.dev"
TIGRIS_REGION = "auto"
# Tigris serves a read from the region nearest the reader, which may not have seen a write made
# elsewhere a moment ago. This header asks for a strongly consistent answer on every request;
# a sync that compares listings against its snapshot needs exactly that (basic-memory's rclone
# runs pass it too: rclone_commands.py, tigrisdata.com/docs/objects/consistency/).
CONSISTENT_HEADERS = {"X-Tigris-Consistent": "true"}


@dataclass(frozen=True)
class CloudMount:
    tenant_id: str
    bucket: str
    s3: S3Config
    """Scoped credentials, Tigris's endpoint (or the override), region `auto`, and the
    consistency header on every request."""

    def url(self, prefix: str = "") -> str:
        """`s3://bucket/prefix`, the remote URL of one project (or of the whole bucket)."""
        prefix = prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"


async def open_cloud_mount(
    cloud: CloudClient, *, endpoint_url: str | None = None, region: str | None = None
) -> CloudMount:
    """Fetch the bucket and mint credentials for it.

    `endpoint_url` and `region` replace Tigris's (a test server, a proxy); the credentials and
    the consistency header stay.
    """
    info = _fields(
        await cloud.request("GET", "/tenant/mount/info"), "GET /tenant/mount/info",
        ("tenant_id", "bucket_name"),
    )  # fmt: skip
    # basic-memory routes the minting by tenant id, so a Team workspace's bucket gets its own
    # key (bisync_commands.generate_mount_credentials).
    keys = _fields(
        await cloud.request(
            "POST", "/tenant/mount/credentials", headers={"X-Workspace-ID": info["tenant_id"]}
        ),
        "POST /tenant/mount/credentials",
        ("access_key", "secret_key"),
    )
    s3 = S3Config(
        endpoint_url=endpoint_url or TIGRIS_ENDPOINT,
        region=region or TIGRIS_REGION,
        access_key_id=keys["access_key"],
        secret_access_key=keys["secret_key"],
        headers=CONSISTENT_HEADERS,
        # basic-memory's rclone remote is `provider = Other`, which addresses buckets by path.
        addressing_style="path",
    )
    return CloudMount(tenant_id=info["tenant_id"], bucket=info["bucket_name"], s3=s3)


def _fields(body: Any, what: str, names: tuple[str, ...]) -> dict[str, str]:
    values = body if isinstance(body, dict) else {}
    missing = [name for name in names if not isinstance(values.get(name), str) or not values[name]]
    if missing:
        raise CloudError(
            f"Basic Memory Cloud's answer to {what} lacks {', '.join(missing)}; this bmsync "
            "may not match the service's API version. Please report it."
        )
    return {name: values[name] for name in names}
