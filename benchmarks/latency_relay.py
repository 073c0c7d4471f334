"""A TCP relay on 127.0.0.1 that adds a fixed network delay, to time the tools as if the S3
server were across the internet (Tigris: tens of milliseconds per round trip).

Every byte is held for half the round-trip time in each direction, so a request and its answer
cost one full `rtt_ms` more than on loopback; a new connection costs one round trip before its
first byte goes through (the TCP handshake a real link would need; TLS would add more, and is
not modelled). Order within a connection is kept: each direction is a queue of chunks, each
released at its arrival time plus the delay. Runs its own event loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

from s3server import free_port

READ_BYTES = 1 << 16


class LatencyRelay:
    """Listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`target_port`, `rtt_ms` later."""

    def __init__(self, port: int, target_port: int, rtt_ms: float) -> None:
        self.port = port
        self._target_port = target_port
        self._one_way_s = rtt_ms / 2000
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        """Close the listener and every connection still relayed (a tool keeps idle
        connections open), then stop the loop: no task is left pending when it ends."""

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(2 * self._one_way_s)  # SYN, SYN-ACK: one round trip
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            client_w.close()
            return
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await asyncio.gather(
                self._pipe(client_r, server_w),
                self._pipe(server_r, client_w),
            )
        for writer in (client_w, server_w):
            with contextlib.suppress(OSError):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read as bytes come; a second task writes each chunk once its delay has passed."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def release() -> None:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        releaser = asyncio.ensure_future(release())
        try:
            while True:
                data = await reader.read(READ_BYTES)
                queue.put_nowait((time.monotonic() + self._one_way_s, data))
                if not data:
                    break
            await releaser
        finally:
            releaser.cancel()


@contextlib.contextmanager
def endpoint_through(port: int, rtt_ms: float) -> Iterator[str]:
    """The URL to reach the server on 127.0.0.1:`port` with `rtt_ms` added to each round trip:
    the server itself for 0, else a relay started for the block and stopped after it."""
    if not rtt_ms:
        yield f"http://127.0.0.1:{port}"
        return
    relay = LatencyRelay(free_port(), port, rtt_ms)
    relay.start()
    try:
        yield f"http://127.0.0.1:{relay.port}"
    finally:
        relay.stop()
