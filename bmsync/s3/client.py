"""The aiobotocore S3 client bmsync uses (what its errors mean is `bmsync.s3.error_map`).

Client settings and why:
- standard retry mode, 7 attempts in all (6 retries): exponential backoff with jitter on
  throttling (SlowDown, 503), 5xx, timeouts and connection failures; `legacy` mode would not
  retry some throttling codes. The AWS setting for attempts (`AWS_MAX_ATTEMPTS`, or
  `max_attempts` in the profile), when given, is honoured: it is the knob AWS users know, and
  tests use it to make "fails even after retries" fast. Not `adaptive` mode: its client-side
  rate limiter cost 13-19 % more CPU per request (measured). bmsync instead counts throttled
  answers (`throttles.py`, a handler that changes no retry decision) and narrows its own
  concurrency while they come (`bmsync/engine/aimd.py`).
- checksums only "when required": botocore >= 1.36 otherwise adds CRC32 trailers (aws-chunked
  uploads) that several S3-compatible stores reject. bmsync sends Content-MD5 itself and checks
  ETags instead, which every store understands.
- on an `http://` endpoint (a local S3 server), payloads are not SHA-256-signed
  (`payload_signing_enabled=False`, `UNSIGNED-PAYLOAD`): what botocore already does over
  `https://` for a PUT or a part with Content-MD5. botocore would otherwise hash every byte
  uploaded once more, on the event loop, for a check Content-MD5 already makes (each PUT and
  part carries one, and its ETag is checked after); SHA-256 is 0.6 s of CPU per GiB here. The
  other bodies are small XML documents (completing an upload) whose effect is checked after.
  `https://` endpoints keep botocore's defaults.
- `config.headers` are added on `before-sign`, so they are on every request, listings and
  multipart parts included, and signed with it: `rclone serve s3` (like AWS) refuses an
  `x-amz-*` header that is not in the signature with AccessDenied.
- timestamps are parsed by `parse_timestamp` (fast paths for the ISO form of listings and the
  HTTP date of headers), listings by `fastparse` (the same answer as botocore's parse, planned
  once from the model), and a listing's "is this 200 an error?" check reads its two ends.
- one botocore data loader per process (`shared_loader`): each new session otherwise reads and
  parses the S3 service model, its endpoint rules and the partitions again, about 0.1 s a run,
  which a process syncing again and again (basic-memory, `bmsync watch`) paid every time.
- a fixed `User-Agent` (`USER_AGENT`): botocore otherwise rebuilds its own, with feature ids,
  twice per request (about 0.3 ms of CPU each time here, a tenth of a small PUT's cost); given
  one, it uses it as it is. It also tells a store's logs that the requests are bmsync's.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore import handlers as botocore_handlers
from botocore.exceptions import ProfileNotFound
from botocore.loaders import Loader, create_loader
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from bmsync.errors import ConfigError
from bmsync.options import MAX_REQUESTS_IN_FLIGHT
from bmsync.remotes import S3Config
from bmsync.s3.aio import AioConfig, AioSession
from bmsync.s3.dates import fast_parse
from bmsync.s3.fastparse import FastParserFactory, install_200_check

MAX_ATTEMPTS = 6
"""Retries after the first attempt (botocore's client-config `max_attempts`)."""
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
USER_AGENT = "bmsync"
"""botocore appends its own name and version to it."""
MAX_POOL_CONNECTIONS = MAX_REQUESTS_IN_FLIGHT
"""As many connections as the executor has small transfers in flight (`options`)."""


def make_client_config(config: S3Config, *, total_attempts: int | None = None) -> AioConfig:
    """`total_attempts`, the first attempt included, overrides the default `MAX_ATTEMPTS`
    retries (it is what the AWS configuration's `max_attempts` means)."""
    s3_options: dict[str, Any] = {}
    if _plain_http(config):
        s3_options["payload_signing_enabled"] = False
    if config.addressing_style is not None:
        s3_options["addressing_style"] = config.addressing_style
    retries: dict[str, Any] = {"mode": "standard"}
    if total_attempts is None:
        retries["max_attempts"] = MAX_ATTEMPTS
    else:
        retries["total_max_attempts"] = total_attempts
    return AioConfig(
        retries=retries,
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        user_agent=USER_AGENT,
        s3=s3_options or None,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def add_headers_hook(headers: Mapping[str, str]) -> Any:
    """An event handler that sets `headers` on each request before it is signed."""
    fixed = dict(headers)

    def add_headers(request: Any, **_: Any) -> None:
        for name, value in fixed.items():
            request.headers[name] = value

    return add_headers


class S3OnlyLoader(Loader):  # type: ignore[misc]  # botocore is untyped
    """botocore's data loader, told that S3 is the one service there is.

    Before loading a model botocore checks that the service exists by listing every service
    folder of its data (over 400) and stat-ing each candidate file: about 20 ms of the first
    client in each process, to confirm "s3" is a service. bmsync only ever loads S3's data."""

    def list_available_services(self, type_name: str) -> list[str]:
        return ["s3"]


_LOADERS: dict[str | None, Loader] = {}


def shared_loader(session: AioSession) -> Loader:
    """The process's botocore data loader for the session's data path (AWS_DATA_PATH). It
    caches what it has read, the service model and endpoint rules among it, and holds nothing
    per client or per credential."""
    data_path = session.get_config_variable("data_path")
    loader = _LOADERS.get(data_path)
    if loader is None:
        # botocore's own reading of AWS_DATA_PATH, in a loader of the S3-only kind.
        paths = list(create_loader(data_path).search_paths)
        loader = S3OnlyLoader(extra_search_paths=paths, include_default_search_paths=False)
        _LOADERS[data_path] = loader
    return loader


@contextlib.asynccontextmanager
async def open_s3_client(config: S3Config) -> AsyncIterator[Any]:
    """An aiobotocore S3 client for `config`; credentials not given come from the AWS chain."""
    session = AioSession()
    session.register_component("data_loader", shared_loader(session))
    parsers = FastParserFactory()
    parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
    session.register_component("response_parser_factory", parsers)
    if config.aws_profile is not None and config.access_key_id is None:
        session.set_config_variable("profile", config.aws_profile)
    async with contextlib.AsyncExitStack() as stack:
        try:
            total_attempts = _configured_attempts(session)
            client = await stack.enter_async_context(
                session.create_client(
                    "s3",
                    endpoint_url=config.endpoint_url,
                    region_name=config.region,
                    aws_access_key_id=config.access_key_id,
                    aws_secret_access_key=config.secret_access_key,
                    aws_session_token=config.session_token,
                    verify=_verify(config),
                    config=make_client_config(config, total_attempts=total_attempts),
                )
            )
        except ProfileNotFound as err:
            raise ConfigError(
                f"The AWS profile {config.aws_profile!r} is not in ~/.aws/config or "
                "~/.aws/credentials: check its name, or set credentials another way."
            ) from err
        except ValueError as err:  # botocore's answer to a malformed endpoint URL
            raise ConfigError(
                f"Invalid S3 endpoint URL {config.endpoint_url!r}: use http(s)://host[:port]."
            ) from err
        install_200_check(client.meta.events)
        if config.headers:
            client.meta.events.register("before-sign.s3", add_headers_hook(config.headers))
        # botocore asks for `Expect: 100-continue` on every PUT with a body, so each upload
        # waits one extra round trip for the server's go-ahead before sending a single byte:
        # at 20 ms RTT, 500 small PUTs took 3.35 s with it and 1.64 s without. bmsync's bodies
        # are a note or one multipart part, already in memory; nothing is gained by asking.
        client.meta.events.unregister("before-call.s3", botocore_handlers.add_expect_header)
        yield client


def _verify(config: S3Config) -> bool | None:
    """The client's `verify`: None, not True, so that botocore honours AWS_CA_BUNDLE (or the
    profile's ca_bundle) for an endpoint signed by a private CA (True would ignore it); False
    for a plain `http://` endpoint, where no TLS connection is ever made (botocore does not
    follow redirects elsewhere), so that the client does not load a CA bundle it cannot use
    (about 30 ms of a thread per new client, which the first request waits for)."""
    if not config.verify_tls or _plain_http(config):
        return False
    return None


def _plain_http(config: S3Config) -> bool:
    endpoint = config.endpoint_url
    return endpoint is not None and urlsplit(endpoint).scheme.lower() == "http"


def parse_timestamp(value: Any) -> datetime.datetime:
    """botocore's timestamp parser, with fast paths for the two forms S3 answers use
    (`dates.fast_parse`): the LastModified of every listed key and the Last-Modified header of
    every GET and HEAD. Anything else (epochs, other date forms) still goes to botocore."""
    if isinstance(value, str) and (fast := fast_parse(value)) is not None:
        return fast
    parsed: datetime.datetime = botocore_parse_timestamp(value)
    return parsed


def _configured_attempts(session: AioSession) -> int | None:
    """The AWS configuration's `max_attempts` (AWS_MAX_ATTEMPTS, or the profile's), if set.

    botocore only consults it when the client config names no attempts, and bmsync's does."""
    try:
        value = session.get_config_variable("max_attempts")
    except ValueError as err:  # botocore converts it with int()
        raise ConfigError(
            "AWS_MAX_ATTEMPTS (or max_attempts in the AWS profile) must be a whole number of "
            "attempts, 1 or more."
        ) from err
    if value is None:
        return None
    attempts = int(value)
    if attempts < 1:
        raise ConfigError(
            f"AWS_MAX_ATTEMPTS (or max_attempts in the AWS profile) is {attempts}: it counts "
            "the first attempt too, so it must be 1 or more."
        )
    return attempts
