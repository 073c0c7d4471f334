"""Which token authorises requests to Basic Memory Cloud, and where it came from.

The order is basic-memory's own (`api_client.get_authenticated_headers` in 0.24), so a user
who set basic-memory up needs nothing more for bmsync:

1. `$BASIC_MEMORY_CLOUD_API_KEY` (basic-memory's settings read the environment first);
2. `cloud_api_key` in basic-memory's `config.json` (`bm cloud api-key save`);
3. the access token `bm cloud login` keeps in `basic-memory-cloud.json`, while it is valid.
   bmsync does not refresh it: that would rewrite basic-memory's file behind its back.

The source travels with the token so a refused key can be named in the error.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bmsync.bmhome import basic_memory_dir
from bmsync.cloud.bmconfig import config_path, read_config
from bmsync.errors import CloudAuthError

API_KEY_ENV = "BASIC_MEMORY_CLOUD_API_KEY"
# basic-memory treats a token as expired a minute early, for clock skew; so do we.
_EXPIRY_MARGIN_S = 60


@dataclass(frozen=True)
class CloudToken:
    value: str = field(repr=False)
    source: str
    """Where it came from, for messages: never the token itself."""


def resolve_token(config: dict[str, Any] | None = None) -> CloudToken:
    """`config` is basic-memory's parsed `config.json` (read from its usual place when None)."""
    from_env = os.environ.get(API_KEY_ENV, "").strip()
    if from_env:
        return CloudToken(from_env, f"${API_KEY_ENV}")
    settings = read_config() if config is None else config
    api_key = settings.get("cloud_api_key")
    if isinstance(api_key, str) and api_key.strip():
        return CloudToken(api_key.strip(), f"cloud_api_key in {config_path()}")
    login = _login_token(basic_memory_dir() / "basic-memory-cloud.json")
    if isinstance(login, CloudToken):
        return login
    expired = f" The `bm cloud login` token in {login} has expired." if login else ""
    raise CloudAuthError(
        f"No Basic Memory Cloud credentials found.{expired} Set {API_KEY_ENV}, or save a key "
        "with `bm cloud api-key save <key>` (or log in with `bm cloud login`), then try again."
    )


def _login_token(path: Path) -> CloudToken | Path | None:
    """The valid OAuth token; the file's path when it holds only an expired one; else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # basic-memory itself treats an unreadable token file as "not logged in".
        return None
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        return None
    expires_at = data.get("expires_at", 0)
    if not isinstance(expires_at, int | float) or time.time() >= expires_at - _EXPIRY_MARGIN_S:
        return path
    return CloudToken(data["access_token"], f"the `bm cloud login` token in {path}")
