"""The aiobotocore S3 client bmsync uses, and what its errors mean to a user.

Client settings and why:
- standard retry mode, 6 attempts: exponential backoff with jitter on throttling (SlowDown,
  503), 5xx and connection failures; `legacy` mode would not retry some throttling codes.
- checksums only "when required": botocore >= 1.36 otherwise adds CRC32 trailers (aws-chunked
  uploads) that several S3-compatible stores reject. bmsync sends Content-MD5 itself and checks
  ETags instead, which every store understands.
- `config.headers` are added on `before-sign`, so they are on every request, listings and
  multipart parts included, and signed with it: `rclone serve s3` (like AWS) refuses an
  `x-amz-*` header that is not in the signature with AccessDenied.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)

from bmsync.errors import (
    BmsyncError,
    BucketNotFoundError,
    ConfigError,
    RemoteAuthError,
    RemoteError,
)
from bmsync.s3.config import S3Config

MAX_ATTEMPTS = 6
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
MAX_POOL_CONNECTIONS = 32

_EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpired"}
)
_AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "InvalidToken",
        "InvalidClientTokenId",
        "AuthorizationHeaderMalformed",
        *_EXPIRED_CODES,
    }
)


def make_client_config(config: S3Config) -> AioConfig:
    s3_options: dict[str, str] = {}
    if config.addressing_style is not None:
        s3_options["addressing_style"] = config.addressing_style
    return AioConfig(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=MAX_POOL_CONNECTIONS,
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


@contextlib.asynccontextmanager
async def open_s3_client(config: S3Config) -> AsyncIterator[Any]:
    """An aiobotocore S3 client for `config`; credentials not given come from the AWS chain."""
    session = AioSession()
    if config.aws_profile is not None and config.access_key_id is None:
        session.set_config_variable("profile", config.aws_profile)
    async with contextlib.AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(
                session.create_client(
                    "s3",
                    endpoint_url=config.endpoint_url,
                    region_name=config.region,
                    aws_access_key_id=config.access_key_id,
                    aws_secret_access_key=config.secret_access_key,
                    aws_session_token=config.session_token,
                    verify=config.verify_tls,
                    config=make_client_config(config),
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
        if config.headers:
            client.meta.events.register("before-sign.s3", add_headers_hook(config.headers))
        yield client


def error_code(err: ClientError) -> str:
    code: str = err.response.get("Error", {}).get("Code", "")
    return code


def error_status(err: ClientError) -> int:
    status: int = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status


def describe_error(err: BaseException) -> str:
    """A short, secret-free account of a botocore error for a message."""
    if isinstance(err, ClientError):
        code = error_code(err) or "error"
        detail = err.response.get("Error", {}).get("Message", "")
        status = error_status(err)
        text = f"{code} (HTTP {status})" if status else code
        return f"{text}: {detail}" if detail and detail != code else text
    return f"{type(err).__name__}: {err}"


def translate_client_error(err: BaseException, *, bucket: str, action: str) -> BmsyncError | None:
    """The run-stopping error `err` stands for, or None when it concerns one request only.

    `action` says what bmsync was doing, as a gerund phrase ("listing s3://b/p").
    """
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return RemoteAuthError(
            f"No S3 credentials found while {action}. Set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE (or S3Config.aws_profile), "
            "or pass access_key_id and secret_access_key in S3Config."
        )
    if isinstance(err, ConnectionError):
        return RemoteError(
            f"The S3 endpoint {_endpoint(err)} could not be reached while {action} "
            f"({type(err).__name__}). Check the endpoint URL and your network connection."
        )
    if isinstance(err, HTTPClientError):
        return RemoteError(
            f"The connection to the S3 endpoint {_endpoint(err)} failed while {action} "
            f"({type(err).__name__}), even after retries. Check your network and run again."
        )
    if isinstance(err, ClientError):
        return _translate_response(err, bucket=bucket, action=action)
    return None


def _translate_response(err: ClientError, *, bucket: str, action: str) -> BmsyncError | None:
    code = error_code(err)
    if code == "NoSuchBucket":
        return BucketNotFoundError(
            f"The bucket {bucket!r} does not exist (while {action}). Check the bucket name in "
            "the remote URL and the endpoint, or create the bucket first."
        )
    if code in _EXPIRED_CODES:
        return RemoteAuthError(
            f"The S3 credentials have expired (while {action}). Refresh your temporary "
            "credentials (for example `aws sso login`) and run again."
        )
    if code == "InvalidAccessKeyId":
        return RemoteAuthError(
            f"The S3 service does not know the access key ID in use (while {action}). Check "
            "AWS_ACCESS_KEY_ID, the AWS profile, or S3Config.access_key_id, and the endpoint."
        )
    if code == "SignatureDoesNotMatch":
        return RemoteAuthError(
            f"The S3 service rejected the request signature (while {action}): the secret access "
            "key does not match the access key ID. Check AWS_SECRET_ACCESS_KEY or the profile; a "
            "wrong region or a proxy that rewrites requests can also cause this."
        )
    if code in _AUTH_CODES or error_status(err) in (401, 403):
        return RemoteAuthError(
            f"The S3 service refused access to bucket {bucket!r} ({code or error_status(err)}, "
            f"while {action}). Check that the credentials are the right ones and are allowed to "
            "list, read, write and delete objects under the remote prefix."
        )
    return None


def _endpoint(err: BotoCoreError) -> str:
    endpoint = getattr(err, "kwargs", {}).get("endpoint_url")
    return str(endpoint) if endpoint else "(default AWS endpoint)"
