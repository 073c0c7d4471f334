"""Running a command's coroutine from code that is not async (scripts, Jupyter cells).

With no event loop in the calling thread, `asyncio.run`, which already turns Ctrl-C into a
cancel of the command. Jupyter runs every cell inside its own running loop, where a second loop
cannot start, so there the command runs on a fresh loop in a worker thread while the cell waits.
An interrupt must then reach the worker too, or the cell would return while the sync went on
holding its lock: a `KeyboardInterrupt` in the calling thread (Jupyter's "interrupt the
kernel"), or a cancel of the task the call blocks (Ctrl-C under `asyncio.run`, a timeout),
cancels the worker's run. The run stops between actions, records itself as interrupted and
releases the lock, exactly as under `asyncio.run`; only then does the call raise.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar

_T = TypeVar("_T")
_P = ParamSpec("_P")

POLL_S = 0.1
"""How often the waiting thread looks whether the task it blocks was cancelled."""


def run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run `coro` to the end and return its result (or raise its error); see the module
    docstring for what an interrupt does."""
    try:
        waiting = asyncio.current_task()
    except RuntimeError:  # no loop running in this thread
        waiting, in_loop = None, False
    else:
        in_loop = True
    if not in_loop:
        return asyncio.run(coro)
    cancels = waiting.cancelling() if waiting is not None else 0
    worker = _Worker(coro)
    worker.start()
    try:
        while not worker.finished.wait(POLL_S):
            if waiting is not None and waiting.cancelling() > cancels:
                worker.stop()
                worker.finished.wait()
                raise asyncio.CancelledError
    except KeyboardInterrupt:
        worker.stop()
        worker.finished.wait()
        raise
    return worker.outcome()


class _Worker(threading.Thread, Generic[_T]):
    """A thread running one coroutine on a loop of its own, which another thread can stop.

    Waited for with `finished`, not `join`: a `KeyboardInterrupt` landing in `Thread.join`
    marks the thread as stopped while it runs on (CPython gh-90882), so a second `join` would
    return at once and the interpreter would exit without waiting for the run to wind down.
    """

    def __init__(self, coro: Coroutine[Any, Any, _T]) -> None:
        super().__init__(name="bmsync-command")
        self._coro = coro
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[_T] | None = None
        self._stopped = False
        self._result: list[_T] = []
        self._failure: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self._result.append(asyncio.run(self._main()))
        except BaseException as err:  # re-raised in the caller's thread
            self._failure = err
        finally:
            self.finished.set()

    async def _main(self) -> _T:
        task = asyncio.ensure_future(self._coro)
        with self._lock:
            self._loop, self._task = asyncio.get_running_loop(), task
            if self._stopped:  # stopped before the loop ran: never start
                task.cancel()
        return await task

    def stop(self) -> None:
        """Cancel the run (from any thread); `finished` is set once it has wound down."""
        with self._lock:
            self._stopped = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)

    def outcome(self) -> _T:
        if self._failure is not None:
            raise self._failure
        return self._result[0]


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
