"""Where blocking work on large files runs: the event loop's default threads, or one thread a
large transfer brings for itself.

A multipart upload reads 8 MiB parts and hashes them off the event loop. Run on the default
pool, each of its several threads allocates 8 MiB buffers in its own glibc arena, which keeps
the freed memory for later: a 1 GiB upload peaked at 147 MiB with two parts in flight, against
130 MiB when one thread did every read and hash (measured here, same speed within 5 %). So a
large upload sets `large_io` to a thread of its own for its duration, and the code that reads
or hashes its bytes (`LocalSource.chunks`, the part digests) runs there through `off_loop`;
everything else, and every call made outside such a transfer, uses the default pool.

It sits at the bottom rather than in one adapter because the thread is handed between two that
may not import each other: `s3/multipart.py` sets it for an upload, and `local/source.py`, the
`LocalSource` the upload reads through the port, reads on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

large_io: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "bmsync_large_io", default=None
)


async def off_loop(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """`fn(*args)` off the event loop: on the current large transfer's thread, if any."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(large_io.get(), functools.partial(fn, *args, **kwargs))


@contextlib.contextmanager
def own_thread(name: str) -> Iterator[None]:
    """Within the block, `off_loop` uses one thread of its own, stopped at the end."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    token = large_io.set(executor)
    try:
        yield
    finally:
        large_io.reset(token)
        executor.shutdown(wait=True)  # idle by now: returns at once, and no thread outlives it
