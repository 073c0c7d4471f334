"""The `bmsync` command imports aiohttp without waiting for the system's CA certificates.

When aiohttp is imported it builds two default TLS contexts (`aiohttp.connector`), and each
reads and parses the system's CA bundle: about 55 ms of a command's start-up here, a tenth of
a small project's whole no-change sync. bmsync never uses those contexts: aiobotocore hands
aiohttp a context of its own for every connection (`ssl=` on its connector).

So the command line (`cli.startup.entry`, through `defer_for_this_process`) imports aiohttp with
`SSLContext.load_default_certs` and `set_default_verify_paths` recording the contexts they were
called on instead of loading, puts the methods back, and loads the certificates into those very
contexts on a daemon thread (OpenSSL parses the bundle without the GIL, so that runs beside the
rest of the start-up on another core). The contexts end up exactly as aiohttp made them.

Only the command line opts in: while aiohttp is being imported the two methods are replaced for
every thread, and a library caller (basic-memory) may have threads of its own making TLS
contexts then. The command has none. The global import lock, which `s3/aio.py` holds around
the import, keeps other imports out meanwhile.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

_state = {"deferring": False}
_loader: threading.Thread | None = None


def defer_for_this_process() -> None:
    """Opt in (the command line): aiohttp's import leaves its CA certificates to a thread."""
    _state["deferring"] = True


@contextlib.contextmanager
def deferred_ca_loading() -> Iterator[None]:
    """Around aiohttp's first import: the certificates its contexts ask for are loaded after
    it, on a thread. Does nothing unless opted in, or when aiohttp is imported already."""
    if not _state["deferring"] or "aiohttp" in sys.modules:
        yield
        return
    pending: list[Callable[[], Any]] = []
    cls = ssl.SSLContext
    real_defaults = cls.set_default_verify_paths
    real_load = cls.load_default_certs

    def record_defaults(context: ssl.SSLContext) -> None:
        pending.append(lambda: real_defaults(context))

    def record_load(
        context: ssl.SSLContext, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH
    ) -> None:
        pending.append(lambda: real_load(context, purpose))

    cls.set_default_verify_paths = record_defaults  # type: ignore[method-assign,assignment]
    cls.load_default_certs = record_load  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        cls.set_default_verify_paths = real_defaults  # type: ignore[method-assign]
        cls.load_default_certs = real_load  # type: ignore[method-assign]
    if pending:
        _start(pending)


def _start(pending: list[Callable[[], Any]]) -> None:
    global _loader

    def load() -> None:
        for step in pending:
            # An unreadable bundle leaves that context as an undeferred failure would have;
            # bmsync's own contexts are built by aiobotocore and report their own errors.
            with contextlib.suppress(OSError, ssl.SSLError):
                step()

    _loader = threading.Thread(target=load, name="bmsync-ca-certificates", daemon=True)
    _loader.start()


def wait() -> None:
    """Until the deferred certificates are loaded (tests; nothing in bmsync needs them)."""
    if _loader is not None:
        _loader.join()
