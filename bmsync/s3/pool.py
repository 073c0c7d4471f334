"""S3 clients kept open between runs in one process, with their connections.

A new client costs a run far more than its requests on a small project: about 13 ms of CPU to
build (botocore's per-client set-up), then about 25 ms before its first request leaves (aiobotocore
loads the CA bundle into a new TLS context in a thread) and, over a real network, a TCP (and
TLS) handshake: one to three round trips. On a 100-note project that was two thirds of an
in-process no-change sync on loopback (measured: new client and first LIST 47 ms, a LIST on an
open client 6 ms). A process that syncs again and again (basic-memory, `bmsync watch`,
`sync-all`) paid it every time.

So a run borrows an open client for its S3 settings when one is idle, and gives it back when it
ends cleanly; a run that raised closes its client instead (a client that saw a failure is not
trusted to be in a known state). A kept client is closed:

- after `IDLE_S` unused, by a timer on its event loop;
- when its event loop shuts down: `open_s3_client` is an async generator suspended inside its
  `async with` while the client is kept, and `asyncio.run` closes every open async generator
  (`loop.shutdown_asyncgens`) before it closes the loop, so the client's connections are
  closed cleanly, never left to the garbage collector;
- on being returned after `MAX_AGE_S`, so credentials read from the environment or the AWS
  files are re-read at least that often.

Clients are never shared by two runs at once (each has its own connection pool, sized for one
run's transfers) nor across event loops (aiohttp's connections belong to one loop). The key is
every field of the `S3Config` and every `AWS_*` environment variable, which is where botocore
reads what the config leaves out: a changed variable means a new client.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bmsync.remotes import S3Config
from bmsync.s3.client import open_s3_client

log = logging.getLogger(__name__)

IDLE_S = 90.0
"""How long an unused client stays open: longer than `bmsync watch` waits between two polls of
the remote (60 s by default), so a watch keeps its client. Its connections themselves close
sooner when idle (aiobotocore's keep-alive, 12 s); reopening one costs a handshake, not a new
client."""
MAX_AGE_S = 300.0
"""A client older than this is closed when it is returned rather than kept."""
MAX_IDLE_PER_KEY = 4
"""Idle clients kept per S3 settings and loop (`sync-all` runs a few projects at once)."""


@dataclass(eq=False)
class _Kept:
    client: Any
    opened: contextlib.AbstractAsyncContextManager[Any]
    """`open_s3_client`'s context, entered and not yet exited."""
    born: float
    timer: asyncio.TimerHandle | None = None


@dataclass
class _LoopPool:
    idle: dict[Hashable, list[_Kept]] = field(default_factory=dict)
    closing: set[asyncio.Task[None]] = field(default_factory=set)


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def pooled_s3_client(config: S3Config) -> AsyncIterator[Any]:
    """An open client for `config`: one kept from an earlier run when there is one, else new."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = _LoopPool()
    key = client_key(config)
    kept = _take(pool, key)
    if kept is None:
        opened = open_s3_client(config)
        client = await opened.__aenter__()
        kept = _Kept(client, opened, time.monotonic())
    try:
        yield kept.client
    except BaseException:
        await _close(kept)
        raise
    _give_back(loop, pool, key, kept)


def client_key(config: S3Config) -> Hashable:
    """What decides which client a run may borrow: every field of the config (a field added
    later counts too) and the AWS environment."""
    fields = tuple((f.name, _hashable(getattr(config, f.name))) for f in dataclasses.fields(config))
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    return fields, environment


def _hashable(value: Any) -> Hashable:
    if isinstance(value, Mapping):  # the extra headers
        return tuple(sorted(value.items()))
    hashable: Hashable = value
    return hashable


async def close_idle() -> None:
    """Close every idle client of the running loop (tests; a host about to change settings)."""
    pool = _POOLS.get(asyncio.get_running_loop())
    if pool is None:
        return
    kept = [k for clients in pool.idle.values() for k in clients]
    pool.idle.clear()
    for one in kept:
        await _close(one)
    if pool.closing:
        await asyncio.gather(*pool.closing, return_exceptions=True)


def idle_count() -> int:
    """How many clients the running loop keeps open unused."""
    pool = _POOLS.get(asyncio.get_running_loop())
    return 0 if pool is None else sum(len(clients) for clients in pool.idle.values())


def _take(pool: _LoopPool, key: Hashable) -> _Kept | None:
    clients = pool.idle.get(key)
    if not clients:
        return None
    kept = clients.pop()
    if not clients:
        del pool.idle[key]
    if kept.timer is not None:
        kept.timer.cancel()
        kept.timer = None
    return kept


def _give_back(
    loop: asyncio.AbstractEventLoop, pool: _LoopPool, key: Hashable, kept: _Kept
) -> None:
    too_old = time.monotonic() - kept.born > MAX_AGE_S
    if too_old or len(pool.idle.get(key, ())) >= MAX_IDLE_PER_KEY:
        _close_later(pool, kept)
        return
    pool.idle.setdefault(key, []).append(kept)
    kept.timer = loop.call_later(IDLE_S, _expire, pool, key, kept)


def _expire(pool: _LoopPool, key: Hashable, kept: _Kept) -> None:
    clients = pool.idle.get(key, [])
    if kept in clients:
        clients.remove(kept)
        if not clients:
            del pool.idle[key]
        _close_later(pool, kept)


def _close_later(pool: _LoopPool, kept: _Kept) -> None:
    task = asyncio.ensure_future(_close(kept))
    pool.closing.add(task)
    task.add_done_callback(pool.closing.discard)


async def _close(kept: _Kept) -> None:
    if kept.timer is not None:
        kept.timer.cancel()
    try:
        await kept.opened.__aexit__(None, None, None)
    except Exception:  # closing sockets of a finished run: nothing for the caller to act on
        log.debug("closing a kept S3 client failed", exc_info=True)
