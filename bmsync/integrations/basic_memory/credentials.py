"""Where the S3 endpoint and keys of a basic-memory project come from.

In order: an `S3Config` the host registered (`register_s3_config`, for one rclone remote name or
for all), else the rclone remote `bm cloud setup` already wrote for the project's workspace
(`basic-memory-cloud`, or `basic-memory-cloud-<workspace>`), read from rclone's config file as
the INI text it is. So a user who set up sync once needs nothing more, and no rclone is run.

Whatever the source, every request carries `X-Tigris-Consistent: true`, as basic-memory's rclone
runs did: Tigris answers from the nearest region, which may not have seen another client's
write yet, and a sync that compares listings with its snapshot must see it.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import threading
from pathlib import Path

from bmsync.cloud.mount import CONSISTENT_HEADERS
from bmsync.errors import ConfigError
from bmsync.remotes import S3Config

_registered: dict[str | None, S3Config] = {}
_lock = threading.Lock()

_ENCRYPTED_MARK = "RCLONE_ENCRYPT_V0:"


def register_s3_config(s3: S3Config | None, *, remote_name: str | None = None) -> None:
    """Use `s3` for the projects whose `SyncProject.remote_name` is `remote_name` (None: every
    project without one of its own); `s3=None` takes a registration back."""
    with _lock:
        if s3 is None:
            _registered.pop(remote_name, None)
        else:
            _registered[remote_name] = s3


def rclone_config_path() -> Path:
    """`$RCLONE_CONFIG`, else where basic-memory writes it (`rclone_config.get_rclone_config_path`:
    `~/.config/rclone/rclone.conf` on every system)."""
    configured = os.environ.get("RCLONE_CONFIG")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".config" / "rclone" / "rclone.conf"


def s3_config_for(remote_name: str) -> S3Config:
    """The S3 settings for a project served by the rclone remote `remote_name` (module
    docstring); `ConfigError` saying how to set them up when there are none."""
    with _lock:
        registered = _registered.get(remote_name) or _registered.get(None)
    return consistent(registered if registered is not None else from_rclone(remote_name))


def consistent(s3: S3Config) -> S3Config:
    """`s3` with `X-Tigris-Consistent: true` on every request, unless it sets the header
    itself."""
    names = {name.lower() for name in s3.headers}
    extra = {k: v for k, v in CONSISTENT_HEADERS.items() if k.lower() not in names}
    return dataclasses.replace(s3, headers={**s3.headers, **extra}) if extra else s3


def from_rclone(remote_name: str, path: Path | None = None) -> S3Config:
    """The S3 remote `remote_name` of rclone's config file, as an `S3Config`."""
    path = path or rclone_config_path()
    section = _section(path, remote_name)
    kind = section.get("type", "")
    if kind != "s3":
        raise ConfigError(
            f"the rclone remote [{remote_name}] in {path} is of type {kind or '(none)'!r}, not "
            "s3; run `bm cloud setup --force` to write it again"
        )
    access_key = section.get("access_key_id") or None
    secret_key = section.get("secret_access_key") or None
    if (access_key is None or secret_key is None) and section.get("env_auth") != "true":
        raise ConfigError(
            f"the rclone remote [{remote_name}] in {path} has no access_key_id and "
            "secret_access_key; run `bm cloud setup --force` to mint new ones"
        )
    path_style = section.get("force_path_style", "true").lower() != "false"
    return S3Config(
        endpoint_url=section.get("endpoint") or None,
        region=section.get("region") or None,
        access_key_id=access_key if secret_key else None,
        secret_access_key=secret_key if access_key else None,
        session_token=section.get("session_token") or None,
        addressing_style="path" if path_style else "virtual",
    )


def _section(path: Path, remote_name: str) -> configparser.SectionProxy:
    setup = (
        "run `bm cloud setup` once (add --workspace <slug> for another workspace), or give bmsync "
        "the S3 settings with register_s3_config"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no S3 credentials for the rclone remote {remote_name!r}: rclone's config file "
            f"{path} does not exist; {setup}"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read rclone's config file {path}: {err}") from err
    if _ENCRYPTED_MARK in text:
        raise ConfigError(
            f"rclone's config file {path} is encrypted, which bmsync cannot read; give bmsync the "
            "S3 settings with register_s3_config, or decrypt the file (`rclone config "
            "encryption remove`)"
        )
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as err:
        raise ConfigError(f"rclone's config file {path} is not valid INI: {err}") from err
    if not parser.has_section(remote_name):
        raise ConfigError(
            f"no S3 credentials for the rclone remote {remote_name!r}: {path} has no "
            f"[{remote_name}] section; {setup}"
        )
    return parser[remote_name]
