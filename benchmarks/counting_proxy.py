"""A TCP relay in front of the S3 server that counts the HTTP requests passing through it.

Why a relay and not the server's log: `rclone serve s3 -vv` logs most operations but not in one
line per request (a failed HEAD, a bucket probe or a multi-delete may log differently or not at
all) and its debug logging slows the server down. The relay forwards bytes unchanged in both
directions and only *parses* the client-to-server stream (request line, headers, and the body's
length or chunked framing) to find where each request starts, so keep-alive connections,
`Expect: 100-continue` and chunked uploads are counted correctly. Responses are not parsed.

Each request is classified by what it does to S3: LIST, HEAD, GET, PUT, COPY (PUT with
`x-amz-copy-source`), DELETE, POST (multi-delete, multipart), per bucket (path-style URLs).
The relay also counts the TCP connections clients open: one per request means no keep-alive.
The relay costs an extra local hop per request, which is why the timings are taken without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from urllib.parse import parse_qs, unquote, urlsplit

READ_BYTES = 1 << 16


def classify(method: str, target: str, headers: dict[str, str]) -> tuple[str, str]:
    """(bucket, operation) of one request; the bucket is "" for service-level requests."""
    parts = urlsplit(target)
    path = unquote(parts.path).lstrip("/")
    bucket, _, key = path.partition("/")
    query = parse_qs(parts.query, keep_blank_values=True)
    if method == "GET" and (not key or "list-type" in query):
        return bucket, "LIST"
    if method == "PUT" and "x-amz-copy-source" in headers:
        return bucket, "COPY"
    return bucket, method


class RequestParser:
    """Incremental parser of a client's request stream; calls `on_request` per request head."""

    def __init__(self, counts: Counter[tuple[str, str]], lock: threading.Lock) -> None:
        self._counts = counts
        self._lock = lock
        self._buffer = b""
        self._body_left = 0
        self._chunked = False
        self._in_trailers = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Consume one unit (a head, body bytes, a chunk line); False when more data is needed."""
        if self._body_left:
            taken = min(self._body_left, len(self._buffer))
            self._buffer = self._buffer[taken:]
            self._body_left -= taken
            return bool(self._buffer) and taken > 0
        if self._chunked:
            return self._chunk_step()
        return self._head_step()

    def _head_step(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head, self._buffer = self._buffer[:end].decode("latin-1"), self._buffer[end + 4 :]
        lines = head.split("\r\n")
        method, target = [*lines[0].split(" "), "", ""][:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        with self._lock:
            self._counts[classify(method, target, headers)] += 1
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        else:
            self._body_left = int(headers.get("content-length", "0") or "0")
        return True

    def _chunk_step(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            return False
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        if self._in_trailers:
            if not line:  # the empty line after the trailers ends the message
                self._chunked = self._in_trailers = False
            return True
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            self._in_trailers = True
        else:
            self._body_left = size + 2  # the chunk and its CRLF
        return True


class CountingProxy:
    """Listens on 127.0.0.1:`port` and relays to `upstream_port`, in a background thread."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.port = port
        self._upstream_port = upstream_port
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._opened = 0

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the counting proxy did not start")

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def take(self) -> Counter[tuple[str, str]]:
        """The counts since the last call, and start again from zero."""
        with self._lock:
            counts = Counter(self._counts)
            self._counts.clear()
        return counts

    def take_connections(self) -> int:
        """TCP connections opened since the last call: shows whether clients reuse them."""
        with self._lock:
            opened, self._opened = self._opened, 0
        return opened

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        for task in self._connections:  # clients that keep a connection open until exit
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*self._connections, return_exceptions=True))
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        """Relay one connection until either side closes it, then close both.

        HTTP clients never half-close a connection, so the first EOF ends the exchange. The
        task is kept in `_connections`: asyncio holds tasks only weakly, and a relay task that
        is waiting on two sockets would otherwise be garbage-collected mid-connection.
        """
        task = asyncio.current_task()
        assert task is not None  # start_server runs every handler in a task
        self._connections.add(task)
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        except OSError:
            client_w.close()
            self._connections.discard(task)
            return
        with self._lock:
            self._opened += 1
        parser = RequestParser(self._counts, self._lock)
        pipes = {
            asyncio.create_task(_pipe(client_r, server_w, parser)),
            asyncio.create_task(_pipe(server_r, client_w, None)),
        }
        try:
            # Cancelled when the relay stops with connections still open. The task ends here
            # anyway, and ending it normally keeps asyncio's start_server callback, which asks
            # the task for its exception, from logging a CancelledError.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            for writer in (server_w, client_w):
                writer.close()
            self._connections.discard(task)


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: RequestParser | None
) -> None:
    """Copy bytes until EOF; the parser sees the data before it is forwarded."""
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(READ_BYTES):
            if parser is not None:
                parser.feed(data)
            writer.write(data)
            await writer.drain()
