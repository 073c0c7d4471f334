"""`Bucket`: the client and the remote location every request module is handed, and the one
way a project-relative key becomes a key on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bmsync.failures import FileActionError
from bmsync.remotes import RemoteLocation
from bmsync.s3.keys import InvalidKey, key_for, relkey_to_path


@dataclass(frozen=True, slots=True)
class Bucket:
    client: Any
    """An aiobotocore S3 client, from `bmsync.s3.client.open_s3_client`."""
    location: RemoteLocation

    @property
    def name(self) -> str:
        return self.location.bucket

    @property
    def prefix(self) -> str:
        return self.location.prefix

    def url(self, key: str) -> str:
        """`s3://bucket/key`, for messages."""
        return f"s3://{self.name}/{key}"

    def key(self, relkey: str) -> str:
        """The full key, for relkeys that could be local paths only: `..` and friends never
        reach the wire (with aiohttp a `p/../x` PUT to rclone's server hangs until timeout)."""
        invalid = relkey_to_path(relkey)
        if isinstance(invalid, InvalidKey):
            raise FileActionError(
                f"Refusing the remote key {key_for(self.prefix, relkey)!r}: {invalid.reason}."
            )
        return key_for(self.prefix, relkey)
