"""`python -m bmsync.integrations.basic_memory ARGS...`: basic-memory's own `bm`, on bmsync.

It runs the installed basic-memory's CLI unchanged except for its rclone operations: before
`bm` parses anything, each name of `rclone_commands` this package replaces is put in place of
basic-memory's wherever basic-memory holds it (`rclone_commands` itself and every module that
imported the name, such as `project_sync` and `project`), the rclone-installed check says yes,
`bm cloud setup` installs nothing, and `bm cloud bisync-reset` sets the snapshot aside instead
of deleting the state folder. So `bm cloud bisync|sync|check|push|pull|prune|bisync-reset` and
`bm project ls` work with no rclone anywhere, and everything else is basic-memory's own.

Patching is only safe on a module layout this code was checked against: basic-memory versions
in `SUPPORTED` are run, any other is refused before anything is imported from it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import bmsync.integrations.basic_memory as drop_in
from bmsync.integrations.basic_memory.output import FORCE_VARIABLE
from bmsync.integrations.basic_memory.state import reset_bisync_state
from bmsync.integrations.basic_memory.values import RcloneError

SUPPORTED = ((0, 24),)
"""The (major, minor) releases of basic-memory whose module layout this drop-in knows."""
SUPPORTED_RANGE = ">=0.24,<0.25"

_CLOUD = "basic_memory.cli.commands.cloud"


class UnsupportedBasicMemory(Exception):
    """The installed basic-memory is missing, or not a version whose layout is known."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run `bm` with `argv` (default: this process's arguments); its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        check_supported()
        sys.argv = ["bm", *args]  # basic-memory's main module reads it when imported
        app = importlib.import_module("basic_memory.cli.main").app
        install(force=os.environ.get(FORCE_VARIABLE) == "1")
    except UnsupportedBasicMemory as err:
        print(f"bmsync: {err}", file=sys.stderr)
        return 2
    try:
        app(args=args, prog_name="bm")
    except SystemExit as ended:
        return _exit_code(ended.code)
    return 0


def check_supported() -> str:
    """The installed basic-memory's version; `UnsupportedBasicMemory` naming the supported
    range when it is missing or another release."""
    try:
        version = importlib.metadata.version("basic-memory")
    except importlib.metadata.PackageNotFoundError:
        raise UnsupportedBasicMemory(
            f"basic-memory is not installed in this Python ({sys.executable}); install "
            f"basic-memory{SUPPORTED_RANGE} (it needs Python 3.12 or newer)"
        ) from None
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None or (int(found[1]), int(found[2])) not in SUPPORTED:
        raise UnsupportedBasicMemory(
            f"basic-memory {version} is installed, but this bmsync replaces the rclone calls "
            f"of basic-memory{SUPPORTED_RANGE} only, whose code it was checked against; install "
            f"such a basic-memory, or a bmsync that supports {version}"
        )
    return version


def install(*, force: bool = False) -> None:
    """Put bmsync's operations in place of basic-memory's rclone ones (module docstring);
    `force` lifts the max-delete and empty-side guards of bisync and the mirror."""
    rclone_commands = _module(f"{_CLOUD}.rclone_commands")
    installer = _module(f"{_CLOUD}.rclone_installer")
    cloud_app = _module("basic_memory.cli.app").cloud_app
    ours: dict[str, Any] = {name: getattr(drop_in, name) for name in drop_in.DROP_IN_NAMES}
    if force:
        for name in ("project_bisync", "project_sync"):
            ours[name] = functools.partial(ours[name], force=True)
    _replace(rclone_commands, ours)
    _replace(installer, {"is_rclone_installed": _installed, "install_rclone": _no_install})
    _replace_command(cloud_app, "bisync-reset", _bisync_reset)


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise UnsupportedBasicMemory(
            f"the installed basic-memory has no {name} ({err}); this bmsync supports "
            f"basic-memory{SUPPORTED_RANGE}"
        ) from err


def _replace(home: ModuleType, replacements: Mapping[str, Any]) -> None:
    """Each name of `home` replaced, there and in every basic-memory module that imported that
    same object by name (a `from ... import` copies the reference, so patching `home` alone
    would leave the copies calling rclone)."""
    holders = [
        module
        for name, module in list(sys.modules.items())
        if name.split(".")[0] == "basic_memory" and isinstance(module, ModuleType)
    ]
    for name, new in replacements.items():
        if not hasattr(home, name):
            raise UnsupportedBasicMemory(
                f"{home.__name__} has no {name}; this bmsync supports basic-memory{SUPPORTED_RANGE}"
            )
        old = getattr(home, name)
        for module in holders:
            if module.__dict__.get(name) is old:
                setattr(module, name, new)


def _replace_command(app: Any, name: str, callback: Callable[..., None]) -> None:
    """Run `callback` for the typer command `name`, with the original's parameters."""
    for info in app.registered_commands:
        if info.name == name:
            info.callback = functools.wraps(info.callback)(callback)
            return
    raise UnsupportedBasicMemory(
        f"basic-memory has no `bm cloud {name}` command; this bmsync supports "
        f"basic-memory{SUPPORTED_RANGE}"
    )


def _installed() -> bool:
    return True  # nothing to install: bmsync is the sync engine


def _no_install() -> None:
    print("  bmsync syncs without rclone: nothing to install.")


def _bisync_reset(name: str) -> None:
    """`bm cloud bisync-reset NAME` on bmsync (`state.py`)."""
    try:
        aside = reset_bisync_state(name)
    except RcloneError as err:
        print(f"Error clearing bisync state: {err}")
        raise SystemExit(1) from err
    if not aside:
        print(f"No bisync state found for project '{name}'")
        return
    print(
        f"Forgot the last sync of project '{name}': the next `bm cloud bisync --name {name}` "
        "is a union that deletes nothing. Nothing in the folder or the cloud was changed."
    )
    for path in aside:
        print(f"  the old snapshot is kept at {path}")


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
