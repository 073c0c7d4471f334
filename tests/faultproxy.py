"""A fault-injecting HTTP/1.1 reverse proxy, for proving how bmsync copes with a bad network.

It sits between the S3 client under test and a real S3 server of the fixtures, both on
127.0.0.1, and for each request decides (a `Policy`) whether to pass it through untouched, add
latency, reset the connection before forwarding, reset it part-way through the response, answer
`503 SlowDown` or `500 InternalError` itself, or stall until the client's read timeout fires.

Why an HTTP-aware proxy rather than a byte relay: faults must land on request boundaries
(a "503 for this PUT", a "reset in the middle of this listing's body"), and requests on one
keep-alive connection must be told apart. So it parses just enough HTTP/1.1: the request line,
headers, a Content-Length or chunked body, and the same framing on responses. Each request goes
upstream on a connection of its own that is closed after the response, which keeps the proxy free
of stale keep-alive states; the client's side stays keep-alive, as with a real server.

`Expect: 100-continue` (botocore sends it on every PutObject and UploadPart) is answered by the
proxy itself and the header dropped upstream: the proxy needs the whole body before it decides,
and botocore does not sign `Expect`, so the signature still matches.

The proxy also records how many requests it is answering at once (`Record.in_flight`): how
many a client has in flight, which is what a test of bmsync's concurrency pins.

Decisions are reproducible: every request gets its own `random.Random` seeded from the proxy's
seed and the request's identity (method, path, query parameter names, and how many times that
identity was seen), so which request gets which fault does not depend on how the concurrent
requests of a sync happen to interleave. The caller chooses the seed (tests/test_faults.py: a
fixed default, `BMSYNC_FAULT_SEED` to choose another).

With `tls` (an `ssl.SSLContext` holding a certificate) the proxy listens for HTTPS instead and
forwards plain HTTP: a TLS endpoint in front of a server that has none (tests/test_tls.py).

The proxy runs its own event loop in a background thread, so neither the synchronous test code
nor the event loop of the sync under test shares a loop with it; `stop()` cancels the open
connections and joins the thread. It only ever connects to 127.0.0.1 and buffers at most
`MAX_BODY_BYTES` per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import operator
import random
import socket
import ssl
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from email.utils import formatdate
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_HEAD_BYTES = 64 << 10
MAX_BODY_BYTES = 64 << 20
UPSTREAM_TIMEOUT_S = 60.0
STALL_S = 10.0
"""How long a stalled request is held before the proxy gives up and closes it; far beyond the
read timeout a test sets, so the client's timeout is what ends the wait."""
RESET_GRACE_S = 0.02
"""Pause between the part of a response sent and the reset, so the client reads that part."""


class Fault(enum.Enum):
    """What the proxy does to one request (latency is separate: it combines with any of these)."""

    NONE = "none"
    RESET_BEFORE = "reset-before-forwarding"
    RESET_MID = "reset-mid-response"
    SLOWDOWN = "503-slowdown"
    INTERNAL_ERROR = "500-internal-error"
    STALL = "stall"


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed client request, as a policy sees it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def query_names(self) -> tuple[str, ...]:
        pairs = parse_qsl(urlsplit(self.target).query, keep_blank_values=True)
        return tuple(sorted({name for name, _ in pairs}))

    @property
    def key(self) -> str:
        """The object key of a path-style request ("" for bucket-level requests)."""
        return self.path.lstrip("/").partition("/")[2]

    @property
    def operation(self) -> str:
        """LIST, HEAD, GET, PUT, COPY, DELETE or POST: what the request does to S3."""
        if self.method == "GET" and (not self.key or "list-type" in self.query_names):
            return "LIST"
        if self.method == "PUT" and self.header("x-amz-copy-source") is not None:
            return "COPY"
        return self.method

    @property
    def list_prefix(self) -> str:
        """A listing's `prefix` parameter ("" for other requests)."""
        pairs = parse_qsl(urlsplit(self.target).query, keep_blank_values=True)
        return next((value for name, value in pairs if name == "prefix"), "")

    @property
    def identity(self) -> str:
        """Stable across runs with the same data, whatever the interleaving of requests."""
        return f"{self.method} {self.path}?{'&'.join(self.query_names)}"


@dataclass(frozen=True, slots=True)
class Decision:
    fault: Fault = Fault.NONE
    latency_s: float = 0.0


Policy = Callable[[Request, random.Random], Decision]
"""Called in the proxy's thread, once per request, with that request's own seeded generator."""


def no_faults(_request: Request, _rng: random.Random) -> Decision:
    return Decision()


@dataclass(frozen=True)
class RandomFaults:
    """Each request independently: latency with probability `latency` (uniform up to
    `max_latency_s`), then at most one of the other faults with the given probabilities.
    `operations` limits the faults (not the latency) to those operations; None means all."""

    latency: float = 0.0
    max_latency_s: float = 0.2
    reset_before: float = 0.0
    reset_mid: float = 0.0
    slowdown: float = 0.0
    internal_error: float = 0.0
    operations: Collection[str] | None = None

    def __post_init__(self) -> None:
        if self.reset_before + self.reset_mid + self.slowdown + self.internal_error > 1:
            raise ValueError("fault probabilities add up to more than 1")

    def __call__(self, request: Request, rng: random.Random) -> Decision:
        latency = rng.uniform(0, self.max_latency_s) if rng.random() < self.latency else 0.0
        draw = rng.random()
        if self.operations is not None and request.operation not in self.operations:
            return Decision(latency_s=latency)
        for fault, rate in (
            (Fault.RESET_BEFORE, self.reset_before),
            (Fault.RESET_MID, self.reset_mid),
            (Fault.SLOWDOWN, self.slowdown),
            (Fault.INTERNAL_ERROR, self.internal_error),
        ):
            if draw < rate:
                return Decision(fault, latency)
            draw -= rate
        return Decision(latency_s=latency)


class PerIdentityBurst:
    """The first `count` attempts of every request matching `match` get `fault`, then it
    passes: a burst the client must ride out by retrying each request `count` times. Counting per
    request identity (not globally) makes the expected number of retries exact whatever the
    concurrency."""

    def __init__(self, fault: Fault, count: int, match: Callable[[Request], bool]) -> None:
        self.fault = fault
        self.count = count
        self.match = match
        self._seen: Counter[str] = Counter()

    def __call__(self, request: Request, _rng: random.Random) -> Decision:
        if not self.match(request):
            return Decision()
        self._seen[request.identity] += 1
        return Decision(self.fault if self._seen[request.identity] <= self.count else Fault.NONE)


class NumberedFaults:
    """The requests matching `match`, numbered 1, 2, ... as they arrive (retries included): each
    gets `latency_s`, and those whose number `faulted` accepts get `fault`. A phase of a run
    ("every third PUT from the 65th to the 160th") whatever the keys, for a test that looks at
    what the client does during and after it rather than at which request was hit."""

    def __init__(
        self,
        fault: Fault,
        faulted: Callable[[int], bool],
        match: Callable[[Request], bool],
        *,
        latency_s: float = 0.0,
    ) -> None:
        self.fault = fault
        self.faulted = faulted
        self.match = match
        self.latency_s = latency_s
        self.seen = 0

    def __call__(self, request: Request, _rng: random.Random) -> Decision:
        if not self.match(request):
            return Decision()
        self.seen += 1
        fault = self.fault if self.faulted(self.seen) else Fault.NONE
        return Decision(fault, self.latency_s)


def always(fault: Fault, operations: Collection[str]) -> Policy:
    """`fault` on every request of these operations: a failure no retry gets through."""

    def policy(request: Request, _rng: random.Random) -> Decision:
        return Decision(fault if request.operation in operations else Fault.NONE)

    return policy


def on_keys(faults: dict[tuple[str, str], Fault]) -> Policy:
    """`faults[(operation, key)]` on every request of that operation on that key, retries
    included, and nothing on the others: a failure that outlasts every retry for a chosen set of
    objects while the rest of the run goes through."""

    def policy(request: Request, _rng: random.Random) -> Decision:
        return Decision(faults.get((request.operation, request.key), Fault.NONE))

    return policy


@dataclass(frozen=True, slots=True)
class Record:
    """One request as the proxy saw it: when (monotonic seconds), what, and the fault."""

    at: float
    operation: str
    identity: str
    key: str
    fault: Fault
    list_prefix: str = ""
    """A listing's `prefix` parameter ("" for other requests)."""
    in_flight: int = 0
    """Requests the proxy was answering when this one was decided, this one included."""


@dataclass(frozen=True)
class ProxyStats:
    """Counters at one moment; subtract two to get what happened in between."""

    requests: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[Fault] = field(default_factory=Counter)
    faulted_operations: Counter[tuple[str, Fault]] = field(default_factory=Counter)
    latency_count: int = 0
    latency_s: float = 0.0

    def __sub__(self, other: ProxyStats) -> ProxyStats:
        return self._combine(other, operator.sub)

    def __add__(self, other: ProxyStats) -> ProxyStats:
        return self._combine(other, operator.add)

    def _combine(self, other: ProxyStats, op: Callable[[Any, Any], Any]) -> ProxyStats:
        """Field by field: the counters and the numbers alike support + and -."""
        return ProxyStats(
            **{f.name: op(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)}
        )

    def describe(self) -> str:
        faults = ", ".join(f"{f.value}={n}" for f, n in sorted(self.faults.items(), key=_name))
        ops = ", ".join(f"{op}={n}" for op, n in sorted(self.operations.items()))
        return (
            f"{self.requests} requests ({ops}); faults: {faults or 'none'}; "
            f"latency added to {self.latency_count} ({self.latency_s:.1f} s in all)"
        )


@dataclass
class _Counters:
    """The live counters behind `ProxyStats`; only touched under the proxy's lock."""

    requests: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[Fault] = field(default_factory=Counter)
    faulted_operations: Counter[tuple[str, Fault]] = field(default_factory=Counter)
    latency_count: int = 0
    latency_s: float = 0.0

    def count(self, request: Request, decision: Decision) -> None:
        self.requests += 1
        self.operations[request.operation] += 1
        if decision.fault is not Fault.NONE:
            self.faults[decision.fault] += 1
            self.faulted_operations[(request.operation, decision.fault)] += 1
        if decision.latency_s > 0:
            self.latency_count += 1
            self.latency_s += decision.latency_s

    def frozen(self) -> ProxyStats:
        return ProxyStats(
            requests=self.requests,
            operations=Counter(self.operations),
            faults=Counter(self.faults),
            faulted_operations=Counter(self.faulted_operations),
            latency_count=self.latency_count,
            latency_s=self.latency_s,
        )


def _name(item: tuple[Fault, int]) -> str:
    return item[0].value


class ProtocolError(Exception):
    """The peer sent something this proxy does not understand; the connection is dropped."""


class FaultProxy:
    """Reverse proxy on 127.0.0.1 (a free port) in front of `upstream` (`http://127.0.0.1:N`).

    Use as a context manager, or `start()` / `stop()`. `policy` may be replaced at any time.
    """

    def __init__(
        self,
        upstream: str,
        *,
        seed: int,
        policy: Policy = no_faults,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the fault proxy only fronts http://127.0.0.1 servers: {upstream}")
        if parts.port is None:
            raise ValueError(f"the upstream URL needs a port: {upstream}")
        self.upstream_port: int = parts.port
        self.seed = seed
        self.port = 0
        self._tls = tls
        self._policy = policy
        self._lock = threading.Lock()
        self._counters = _Counters()
        self._records: list[Record] = []
        self._server_errors: list[tuple[str, str]] = []
        self._seen: Counter[str] = Counter()
        self._in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._startup_error: BaseException | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._accepted = 0

    # -- control (any thread) ------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def policy(self) -> Policy:
        return self._policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        with self._lock:
            self._policy = policy

    @property
    def requests_seen(self) -> int:
        with self._lock:
            return self._counters.requests

    @property
    def faults(self) -> Counter[Fault]:
        """Faults injected so far, by type."""
        with self._lock:
            return Counter(self._counters.faults)

    @property
    def connections_accepted(self) -> int:
        """Client connections opened so far (a client reusing its connections opens few)."""
        with self._lock:
            return self._accepted

    @property
    def connections_open(self) -> int:
        """Client connections open now (the client has not closed them)."""
        with self._lock:
            return len(self._connections)

    def stats(self) -> ProxyStats:
        with self._lock:
            return self._counters.frozen()

    def records(self) -> list[Record]:
        """Every request so far, in arrival order (for timing retries)."""
        with self._lock:
            return list(self._records)

    def server_errors(self) -> list[tuple[str, str]]:
        """(operation, key) of every request the upstream server itself answered with a 5xx,
        in order: a client retries those, which a count of requests has to allow for."""
        with self._lock:
            return list(self._server_errors)

    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(timeout=10) or self._startup_error is not None:
            raise RuntimeError("the fault proxy did not start") from self._startup_error
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then end the loop and its thread."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the loop's thread -------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(
                    self._serve, "127.0.0.1", 0, limit=MAX_HEAD_BYTES, ssl=self._tls
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as err:
            self._startup_error = err
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    def _decide(self, request: Request) -> Decision:
        """The policy's decision for `request`, which counts as in flight from here until
        `_answered`."""
        with self._lock:
            self._seen[request.identity] += 1
            occurrence = self._seen[request.identity]
            policy = self._policy
            self._in_flight += 1
            in_flight = self._in_flight
        rng = random.Random(f"{self.seed}|{request.identity}|{occurrence}")
        decision = policy(request, rng)
        record = Record(
            time.monotonic(),
            request.operation,
            request.identity,
            request.key,
            decision.fault,
            request.list_prefix,
            in_flight,
        )
        with self._lock:
            self._counters.count(request, decision)
            self._records.append(record)
        return decision

    def _answered(self) -> None:
        with self._lock:
            self._in_flight -= 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests one after the other until either side closes.

        The task is kept in `_connections` so `stop()` can cancel it (and because asyncio keeps
        only a weak reference to tasks). That cancellation ends the task normally: asyncio's
        server callback would otherwise log the CancelledError of every connection left open."""
        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            self._connections.add(task)
            self._accepted += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except asyncio.CancelledError:
            pass  # stop(): only the proxy's own shutdown cancels these tasks
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ProtocolError,
            TimeoutError,
        ):
            pass  # the client went away, or spoke something this proxy cannot relay
        finally:
            writer.close()
            with self._lock:
                self._connections.discard(task)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is done (closed, reset or to close)."""
        head = await _read_head(reader)
        if head is None:
            return False
        method, target, headers = _parse_request_head(head)
        expects_continue = (_header(headers, "expect") or "").lower() == "100-continue"
        if expects_continue:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
            headers = tuple((k, v) for k, v in headers if k.lower() != "expect")
        body = await _read_body(reader, headers)
        request = Request(method, target, headers, body)
        decision = self._decide(request)
        try:
            return await self._answer(request, decision, writer)
        finally:
            self._answered()

    async def _answer(
        self, request: Request, decision: Decision, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer `request` as `decision` says; False when the connection is done."""
        if decision.latency_s > 0:
            await asyncio.sleep(decision.latency_s)
        keep_alive = (request.header("connection") or "").lower() != "close"
        fault = decision.fault
        if fault is Fault.RESET_BEFORE:
            _reset(writer)
            return False
        if fault is Fault.STALL:
            await asyncio.sleep(STALL_S)
            return False
        if fault in (Fault.SLOWDOWN, Fault.INTERNAL_ERROR):
            writer.write(_error_response(fault, request))
            await writer.drain()
            return keep_alive
        try:
            response_head, response_body, upstream_closes = await asyncio.wait_for(
                self._forward(request, _request_bytes(request) + request.body),
                UPSTREAM_TIMEOUT_S,
            )
        except (OSError, asyncio.IncompleteReadError, ProtocolError, TimeoutError):
            writer.write(_bad_gateway())
            await writer.drain()
            return False
        if fault is Fault.RESET_MID:
            rng = random.Random(f"{self.seed}|{request.identity}|cut")
            whole = response_head + response_body
            if response_body:
                cut = len(response_head) + rng.randrange(len(response_body))
            else:
                cut = rng.randrange(1, len(response_head))
            writer.write(whole[:cut])
            await writer.drain()
            await asyncio.sleep(RESET_GRACE_S)
            _reset(writer)
            return False
        status, _ = _parse_response_head(response_head)
        if status >= 500:
            with self._lock:
                self._server_errors.append((request.operation, request.key))
        writer.write(response_head + response_body)
        await writer.drain()
        return keep_alive and not upstream_closes

    async def _forward(self, request: Request, raw: bytes) -> tuple[bytes, bytes, bool]:
        """Send `raw` upstream on a fresh connection; (head, body, whether to close after)."""
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port, limit=MAX_HEAD_BYTES
        )
        try:
            writer.write(raw)
            await writer.drain()
            while True:
                head = await _read_head(reader)
                if head is None:
                    raise ProtocolError("upstream closed before answering")
                status, headers = _parse_response_head(head)
                if not 100 <= status < 200:
                    break
            closes = (_header(headers, "connection") or "").lower() == "close"
            if request.method == "HEAD" or status in (204, 304):
                return head, b"", closes
            if _is_chunked(headers) or _header(headers, "content-length") is not None:
                return head, await _read_body(reader, headers), closes
            return head, await _read_to_eof(reader), True
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


# -- HTTP/1.1 framing ----------------------------------------------------------------------------

Headers = tuple[tuple[str, str], ...]


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """A message head up to and including the blank line; None on EOF before its first byte."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise


def _split_head(head: bytes) -> tuple[str, Headers]:
    lines = head.decode("latin-1").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line!r}")
        headers.append((name, value.strip()))
    return lines[0], tuple(headers)


def _parse_request_head(head: bytes) -> tuple[str, str, Headers]:
    start, headers = _split_head(head)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError(f"malformed request line {start!r}")
    return parts[0], parts[1], headers


def _parse_response_head(head: bytes) -> tuple[int, Headers]:
    start, headers = _split_head(head)
    parts = start.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"malformed status line {start!r}")
    return int(parts[1]), headers


def _header(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _is_chunked(headers: Headers) -> bool:
    return "chunked" in (_header(headers, "transfer-encoding") or "").lower()


async def _read_body(reader: asyncio.StreamReader, headers: Headers) -> bytes:
    """The body as framed on the wire (chunk lines and trailers kept, to forward it as is)."""
    if _is_chunked(headers):
        return await _read_chunked(reader)
    length = _header(headers, "content-length")
    if length is None:
        return b""  # a request without either has no body (RFC 9112 §6.3)
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        raise ProtocolError(f"unusable Content-Length {length!r}")
    return await reader.readexactly(int(length))


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        parts.append(line)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as err:
            raise ProtocolError(f"malformed chunk size {line!r}") from err
        if size == 0:
            while True:  # trailers, then the blank line that ends the message
                trailer = await reader.readuntil(b"\r\n")
                parts.append(trailer)
                if trailer == b"\r\n":
                    return b"".join(parts)
        total += size
        if total > MAX_BODY_BYTES:
            raise ProtocolError("chunked body over the proxy's limit")
        parts.append(await reader.readexactly(size + 2))


async def _read_to_eof(reader: asyncio.StreamReader) -> bytes:
    data = await reader.read(MAX_BODY_BYTES + 1)
    chunks = [data]
    total = len(data)
    while data:
        data = await reader.read(MAX_BODY_BYTES + 1 - total)
        chunks.append(data)
        total += len(data)
        if total > MAX_BODY_BYTES:
            raise ProtocolError("response body over the proxy's limit")
    return b"".join(chunks)


def _request_bytes(request: Request) -> bytes:
    """The request's head as sent upstream."""
    head = f"{request.method} {request.target} HTTP/1.1"
    lines = [head, *(f"{k}: {v}" for k, v in request.headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


_ERRORS = {
    Fault.SLOWDOWN: (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    Fault.INTERNAL_ERROR: (
        500,
        "Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
}


def _error_response(fault: Fault, request: Request) -> bytes:
    """The S3 error answer for `fault`, as AWS words it; HEAD gets the head only."""
    status, reason, code, message = _ERRORS[fault]
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{_xml_escape(request.path)}</Resource>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Date: {formatdate(time.time(), usegmt=True)}\r\n"
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"x-amz-request-id: {request_id}\r\n"
        "\r\n"
    ).encode("latin-1")
    return head if request.method == "HEAD" else head + body


def _bad_gateway() -> bytes:
    body = b"the fault proxy could not reach the upstream S3 server"
    return (
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the kernel sends RST, the client sees ECONNRESET, not an EOF."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
