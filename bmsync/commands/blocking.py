"""Running a command's coroutine from code that is not async (scripts, Jupyter cells)."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

_T = TypeVar("_T")
_P = ParamSpec("_P")


def run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run `coro` to the end and return its result (or raise its error).

    With no event loop in this thread, `asyncio.run`. With one running (Jupyter), the coroutine
    runs on a fresh loop in a worker thread while this thread waits for it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[_T] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as err:  # re-raised in the caller's thread
            failure.append(err)

    thread = threading.Thread(target=worker, name="bmsync-sync")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def blocking(command: Callable[_P, Coroutine[Any, Any, _T]]) -> Callable[_P, _T]:
    """The blocking form of an async command, with the same parameters (for IDEs, type
    checkers and `help()`), for scripts and notebooks."""

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return run_blocking(command(*args, **kwargs))

    run.__doc__ = f"`{command.__name__}`, blocking: for scripts and Jupyter cells.\n\n" + (
        command.__doc__ or ""
    )
    run.__name__ = run.__qualname__ = f"{command.__name__}_blocking"
    return run
