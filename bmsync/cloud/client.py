"""`CloudClient`: authenticated JSON requests to the Basic Memory Cloud API, over httpx.

It owns what every endpoint shares: the base URL, the `Authorization: Bearer` header, an
optional `X-Workspace-ID` (basic-memory's routing to a Team workspace's tenant), retries of
transient failures, and turning every failure into a `bmsync.errors.CloudError` that says what
to do. The endpoints themselves are small functions in `mount.py` and `projects.py`.

Retried, with exponential backoff: network failures, timeouts, 429 and 5xx answers (a
deploy or a cold start of the tenant's machine answers 502/503 for a few seconds). Not
retried: any other 4xx, which a second attempt would only repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from bmsync.cloud.auth import API_KEY_ENV, CloudToken, resolve_token
from bmsync.cloud.bmconfig import cloud_host, read_config
from bmsync.errors import (
    CloudAuthError,
    CloudError,
    CloudSubscriptionError,
    CloudUnavailableError,
    ConfigError,
)

log = logging.getLogger(__name__)

# Where basic-memory sends a user whose 403 names no page of its own (api_client.py).
DEFAULT_SUBSCRIBE_URL = "https://basicmemory.com/pricing"
_MAX_RETRY_AFTER_S = 60.0


class CloudClient:
    """One connection pool to the Cloud API; use it as `async with CloudClient() as cloud:`.

    `url` defaults to `$BASIC_MEMORY_CLOUD_HOST`, else basic-memory's `cloud_host`, else
    https://cloud.basicmemory.com; `token` to what `bmsync.cloud.auth.resolve_token` finds.
    `transport` replaces the network (an `httpx.MockTransport`, an ASGI app) for tests.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | CloudToken | None = None,
        workspace: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        config = read_config() if url is None or token is None else {}
        self.url = _check_url(url if url is not None else cloud_host(config))
        if isinstance(token, str):
            token = CloudToken(token, "the token given to CloudClient")
        self.token = token if token is not None else resolve_token(config)
        self.workspace = workspace
        if retries < 0 or backoff < 0:
            raise ConfigError("CloudClient retries and backoff cannot be negative.")
        self.retries = retries
        self.backoff = backoff
        headers = {
            "Authorization": f"Bearer {self.token.value}",
            "Accept": "application/json",
            "User-Agent": "bmsync",
        }
        if workspace:
            headers["X-Workspace-ID"] = workspace
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        source, workspace = self.token.source, self.workspace
        return f"CloudClient(url={self.url!r}, token from {source}, workspace={workspace!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None for an empty body); a `CloudError` for anything else."""
        reason, status = "", None
        for attempt in range(self.retries + 1):
            hint = 0.0
            try:
                response = await self._http.request(method, path, json=json, headers=headers)
            except httpx.TransportError as err:
                reason, status = str(err) or type(err).__name__, None
            else:
                if response.is_success:
                    return _json_body(response)
                if not _is_transient(response.status_code):
                    raise self._refusal(response)
                reason = f"{_status(response)}{_detail_suffix(response)}"
                status, hint = response.status_code, _retry_after(response)
            if attempt < self.retries:
                wait = max(self.backoff * 2**attempt, hint)
                log.warning("%s %s failed (%s); retrying in %.1f s", method, path, reason, wait)
                await asyncio.sleep(wait)
        if status is None:
            raise CloudUnavailableError(
                f"Could not reach Basic Memory Cloud at {self.url} ({reason}). Check the network "
                "connection and the cloud URL, then try again."
            )
        attempts = self.retries + 1
        raise CloudUnavailableError(
            f"Basic Memory Cloud answered {method} {path} with {reason} "
            f"{attempts} time{'s' if attempts > 1 else ''}: the service is having trouble. "
            "Try again in a few minutes.",
            status_code=status,
        )

    def _refusal(self, response: httpx.Response) -> CloudError:
        request = response.request
        what = f"{request.method} {request.url.path}"
        status = response.status_code
        body = _json_or_none(response)
        if status == 401:
            return CloudAuthError(
                f"Basic Memory Cloud refused the credentials ({self.token.source}) with 401 "
                f"Unauthorized. Save a new API key with `bm cloud api-key save <key>` or set "
                f"{API_KEY_ENV}, or log in again with `bm cloud login`, then try again.",
                status_code=status,
            )
        subscription = _subscription_detail(body) if status == 403 else None
        if subscription is not None:
            message = subscription.get("message") or "Active subscription required."
            url = subscription.get("subscribe_url") or DEFAULT_SUBSCRIBE_URL
            return CloudSubscriptionError(
                f"{str(message).rstrip('.')}. This Basic Memory Cloud account has no active "
                f"subscription: subscribe at {url}, then try again.",
                subscribe_url=str(url),
            )
        if status == 403:
            return CloudError(
                f"Basic Memory Cloud refused {what} with 403 Forbidden"
                f"{_detail_suffix(response)}. Check that this account (credentials from "
                f"{self.token.source}) may use this workspace.",
                status_code=status,
            )
        if 300 <= status < 400:
            return CloudError(
                f"Basic Memory Cloud redirected {what} to {response.headers.get('location')}: "
                f"{self.url} may not be the API's address; give the URL it redirects to.",
                status_code=status,
            )
        return CloudError(
            f"Basic Memory Cloud refused {what} with {_status(response)}"
            f"{_detail_suffix(response)}.",
            status_code=status,
        )


def _check_url(url: str) -> str:
    if not url.startswith(("https://", "http://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ConfigError(
            f"Invalid Basic Memory Cloud URL {url!r}: give it as https://HOST (for example "
            "https://cloud.basicmemory.com)."
        )
    return url.rstrip("/")


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


def _status(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        request = response.request
        raise CloudError(
            f"Basic Memory Cloud answered {request.method} {request.url.path} with something "
            f"that is not JSON ({response.headers.get('content-type', 'no content type')}): "
            f"is {request.url.scheme}://{request.url.netloc.decode()} the Cloud API's address?",
            status_code=response.status_code,
        ) from None


def _subscription_detail(body: Any) -> dict[str, Any] | None:
    """FastAPI nests an HTTPException's dict under "detail"; some routes answer it bare."""
    if not isinstance(body, dict):
        return None
    detail = body.get("detail", body)
    if isinstance(detail, dict) and detail.get("error") == "subscription_required":
        return detail
    return None


def _detail_suffix(response: httpx.Response) -> str:
    """`: <the server's own explanation>` when it gave one, kept short."""
    body = _json_or_none(response)
    detail: Any = body.get("detail", body.get("message")) if isinstance(body, dict) else None
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("detail")
    if detail is None and body is None:
        detail = response.text.strip()
    text = str(detail).strip() if detail else ""
    return f" ({text[:200]})" if text else ""


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER_S)
    except ValueError:
        return 0.0
