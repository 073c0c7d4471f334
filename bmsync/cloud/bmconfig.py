"""basic-memory's `config.json`, read as the JSON object it is, with errors that name the file.

bmsync never writes this file: basic-memory owns it (`bm cloud api-key save`, `bm cloud
sync-setup`). Only the few keys bmsync needs are read, each by the module that needs it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bmsync.bmhome import basic_memory_dir
from bmsync.errors import ConfigError

DEFAULT_CLOUD_HOST = "https://cloud.basicmemory.com"


def config_path() -> Path:
    return basic_memory_dir() / "config.json"


def read_config(
    path: str | os.PathLike[str] | None = None, *, required: bool = False
) -> dict[str, Any]:
    """The parsed file, or `{}` when it does not exist and `required` is false.

    A file that exists but cannot be used is always an error: guessing past a corrupt config
    could sync the wrong folders or send no key and report a misleading 401.
    """
    file = Path(path).expanduser() if path is not None else config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(
            f"basic-memory's config file {file} does not exist. Set up a project with "
            "`bm cloud sync-setup NAME ~/path` (or give another file), then try again."
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"basic-memory's config file {file} is not UTF-8 text ({err}).") from err
    except OSError as err:
        why = err.strerror or str(err)
        raise ConfigError(f"Cannot read basic-memory's config file {file}: {why}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"basic-memory's config file {file} is not valid JSON (line {err.lineno}, column "
            f"{err.colno}: {err.msg}). Fix it, or restore {file.name}.bak if basic-memory left one."
        ) from err
    if not isinstance(data, dict):
        raise ConfigError(
            f"basic-memory's config file {file} holds a JSON {type(data).__name__}, not an "
            "object of settings."
        )
    return data


def cloud_host(config: dict[str, Any]) -> str:
    """`$BASIC_MEMORY_CLOUD_HOST`, else the config's `cloud_host`, else the public service: the
    order basic-memory applies (its settings read the environment first)."""
    from_env = os.environ.get("BASIC_MEMORY_CLOUD_HOST")
    if from_env:
        return from_env
    configured = config.get("cloud_host")
    if isinstance(configured, str) and configured:
        return configured
    return DEFAULT_CLOUD_HOST
