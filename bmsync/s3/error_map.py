"""What every botocore and aiohttp error means to bmsync, and how to say it to the user.

Failures come in two kinds. Those that concern the whole remote (credentials refused, bucket
missing, and any failure to list) are `bmsync.errors` types and stop the run
(`translate_client_error`, `listing_error`). Everything else about one object becomes a
`bmsync.failures.FileActionError` naming its key (`file_errors`), so the run reports it and the
next run retries:

    412 PreconditionFailed, ConditionalRequestConflict  -> RemoteChanged
    a body cut off mid-stream (aiohttp)                 -> TransientError (retried once more)
    credentials refused, expired; no such bucket        -> RemoteAuthError, BucketNotFoundError
    anything else                                       -> FileActionError

Messages describe errors without secrets: codes, statuses and the server's message only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    SSLError,
)

from bmsync.errors import BmsyncError, BucketNotFoundError, RemoteAuthError, RemoteError
from bmsync.failures import FileActionError, RemoteChanged, RemoteMissing, TransientError
from bmsync.s3.aio import aiohttp
from bmsync.s3.bucket import Bucket

TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError)
"""What a request raises when no answer came back (after botocore's retries)."""

_PRECONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})  # HEAD errors have no body: code "404"
_CONDITION_REJECTED = frozenset({"NotImplemented", "InvalidArgument"})
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


# -- what an answer was --------------------------------------------------------------------------


def error_code(err: ClientError) -> str:
    code: str = err.response.get("Error", {}).get("Code", "")
    return code


def error_status(err: ClientError) -> int:
    status: int = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status


def is_not_found(err: ClientError) -> bool:
    return error_code(err) in _NOT_FOUND


def is_precondition_failed(err: ClientError) -> bool:
    return error_code(err) in _PRECONDITION_FAILED or error_status(err) == 412


def rejects_condition(err: ClientError) -> bool:
    """The store refused the condition header itself: it does not implement conditions."""
    return error_code(err) in _CONDITION_REJECTED or error_status(err) == 501


def describe_error(err: BaseException) -> str:
    """A short, secret-free account of a botocore error for a message."""
    if isinstance(err, ClientError):
        code = error_code(err) or "error"
        detail = err.response.get("Error", {}).get("Message", "")
        status = error_status(err)
        text = f"{code} (HTTP {status})" if status else code
        return f"{text}: {detail}" if detail and detail != code else text
    return f"{type(err).__name__}: {err}"


# -- errors that stop the run ------------------------------------------------------------------


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
    if isinstance(err, SSLError):
        return RemoteError(
            f"The TLS certificate of the S3 endpoint {_endpoint(err)} could not be verified "
            f"while {action} ({err.kwargs.get('error', err)}). If the endpoint uses a private "
            "or self-signed certificate, point AWS_CA_BUNDLE at the certificate of its authority; "
            "only on a network you trust, turn verification off (verify_tls)."
        )
    if isinstance(err, ConnectionError) and _reset_after_connecting(err):
        return RemoteError(
            f"The connection to the S3 endpoint {_endpoint(err)} was reset while {action}, "
            "even after retries. Check your network (a VPN, proxy or firewall in between can "
            "do this) and run again."
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


def listing_error(err: BaseException, *, bucket: str, action: str) -> BmsyncError:
    """Any failure to list stops the run: without a complete listing every object the listing
    missed would look deleted remotely."""
    translated = translate_client_error(err, bucket=bucket, action=action)
    if translated is not None:
        return translated
    detail = describe_error(err).rstrip(".")
    if isinstance(err, ClientError) and (
        error_status(err) >= 500 or error_code(err) in {"SlowDown", "Throttling"}
    ):
        advice = "the service is failing or throttling requests; run again in a few minutes"
    else:
        advice = "check the endpoint and the remote URL, then run again"
    return RemoteError(
        f"Failed {action}: {detail}. Without a complete listing nothing can be synced; {advice}."
    )


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


def _reset_after_connecting(err: ConnectionError) -> bool:
    """aiobotocore reports a connection reset mid-request as EndpointConnectionError, like a
    refused connect; telling the user to check the endpoint URL would then send them the wrong
    way, since the endpoint was reached."""
    cause = getattr(err, "kwargs", {}).get("error")
    return isinstance(cause, aiohttp.ClientOSError) and not isinstance(
        cause, aiohttp.ClientConnectorError
    )


def _endpoint(err: BotoCoreError) -> str:
    """The URL the failed request went to, without its query (a listing's query is noise)."""
    endpoint = getattr(err, "kwargs", {}).get("endpoint_url")
    return str(endpoint).split("?", 1)[0] if endpoint else "(default AWS endpoint)"


# -- errors about one object ---------------------------------------------------------------------


@contextlib.contextmanager
def file_errors(bucket: Bucket, action: str, key: str) -> Iterator[None]:
    """Turn what went wrong with one object into a FileActionError naming it, except what
    stops the run (credentials, missing bucket). `action` is a verb: "upload"."""
    try:
        yield
    except (FileActionError, BmsyncError):
        raise
    except ClientError as err:
        if is_precondition_failed(err):
            raise changed(bucket.url(key)) from err
        raise _file_error(bucket, err, action, key) from err
    except TRANSPORT_ERRORS as err:
        raise _file_error(bucket, err, action, key) from err


def _file_error(bucket: Bucket, err: BaseException, action: str, key: str) -> Exception:
    url = bucket.url(key)
    if isinstance(err, aiohttp.ClientPayloadError | aiohttp.ClientConnectionError):
        # A body cut off mid-stream: botocore does not retry what it already handed over.
        return TransientError(f"Could not {action} {url}: {describe_error(err)}")
    translated = translate_client_error(err, bucket=bucket.name, action=f"trying to {action} {url}")
    if isinstance(translated, RemoteAuthError | BucketNotFoundError):
        return translated
    return FileActionError(f"Could not {action} {url}: {describe_error(err)}")


def uploads_error(bucket: Bucket, err: BaseException) -> FileActionError:
    """Listing or aborting unfinished multipart uploads failed: it only costs storage."""
    return FileActionError(
        f"could not list or abort unfinished uploads below {bucket.location.url}: "
        f"{describe_error(err)}"
    )


def changed(url: str) -> RemoteChanged:
    return RemoteChanged(
        f"{url} changed on the remote since it was listed, so bmsync left it alone; it will be "
        "looked at again on the next run."
    )


def appeared(url: str) -> RemoteChanged:
    return RemoteChanged(
        f"{url} appeared on the remote since it was listed; left as it is, it will be looked at "
        "again on the next run."
    )


def missing(url: str) -> RemoteMissing:
    return RemoteMissing(
        f"{url} disappeared from the remote since it was listed; it will be looked at again on "
        "the next run."
    )


def corrupt_upload(url: str) -> FileActionError:
    return FileActionError(
        f"The object stored at {url} differs from what was sent (its ETag or size does not "
        "match the local file); it will be uploaded again on the next run."
    )


def corrupt_download(url: str) -> FileActionError:
    return FileActionError(
        f"The download of {url} does not match the object's size or ETag (the transfer was "
        "corrupted or cut short); it was not used and will be retried on the next run."
    )
