"""aiobotocore's session, config and parsers, imported without its optional httpx backend.

aiobotocore 3 imports httpx (or httpx2) whenever it is installed, to offer an httpx session
next to the aiohttp one, and httpx in turn imports its command-line tool's click, rich and
pygments: about 75 ms of a CLI run's start-up here (`python -X importtime`), for a backend
bmsync never uses (its client is aiohttp's). httpx is installed anyway, for the Cloud API.

So, in a process that has not imported httpx yet, aiobotocore is imported with httpx hidden
(`sys.modules[name] = None` makes `import name` raise ImportError, which aiobotocore handles as
"not installed"), then httpx is visible again: a later `import httpx` (the Cloud API client)
works as usual. The global import lock is held meanwhile, so no other thread's import can see
httpx hidden. A process that imported httpx before (basic-memory does) is left alone: there is
nothing to save.

aiohttp is imported here first, for every other bmsync module (`from bmsync.s3.aio import
aiohttp`), so that the command line can leave the CA certificates of aiohttp's unused default
TLS contexts to a thread (`s3/cacerts.py`).
"""

from __future__ import annotations

import _imp
import importlib
import sys

from bmsync.s3 import cacerts

_HIDDEN = ("httpx", "httpx2")
_MODULES = ("aiobotocore.config", "aiobotocore.session")


def _import_without_httpx() -> None:
    if all(name in sys.modules for name in _MODULES):
        return
    _imp.acquire_lock()
    try:
        with cacerts.deferred_ca_loading():
            importlib.import_module("aiohttp")
        if any(name in sys.modules for name in _HIDDEN):
            return
        for name in _HIDDEN:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            for module in _MODULES:
                importlib.import_module(module)
        finally:
            for name in _HIDDEN:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
    finally:
        _imp.release_lock()


_import_without_httpx()

import aiohttp  # noqa: E402
from aiobotocore.config import AioConfig  # noqa: E402
from aiobotocore.parsers import AioResponseParserFactory, AioRestXMLParser  # noqa: E402
from aiobotocore.session import AioSession  # noqa: E402

__all__ = ["AioConfig", "AioResponseParserFactory", "AioRestXMLParser", "AioSession", "aiohttp"]
