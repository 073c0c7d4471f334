"""The library as a new user meets it: wrong argument types, a notebook's event loop, logging.

Each test here is a fault found by using bmsync as a new user would, and failed before its fix.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import bmsync
from bmsync.errors import ConfigError
from bmsync.local import ignore as ignore_module
from bmsync.testing import MemoryRemote

URL = "s3://memory/p"


def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("a")
    (root / "b.tmp").write_text("b")
    return root


@pytest.mark.parametrize("option", ["ignore", "ignore_files"])
def test_a_lone_string_for_a_list_option_is_refused(tmp_path: Path, option: str) -> None:
    """`ignore="*.tmp"` once made every character a pattern (`*` ignored every file): the
    run said ok and uploaded nothing. Now nothing runs and the message shows the fix."""
    remote = MemoryRemote()
    with pytest.raises(ConfigError, match=rf"{option}=\['\*\.tmp'\]"):
        bmsync.sync_project_blocking(
            notes(tmp_path), URL, state_dir=tmp_path / "st", remote=remote, **{option: "*.tmp"}
        )
    assert remote.contents() == {}, "nothing was uploaded"


def test_check_refuses_a_lone_string_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ignore takes a list"):
        asyncio.run(
            bmsync.check_project(
                notes(tmp_path), URL, state_dir=tmp_path / "st", remote=MemoryRemote(),
                ignore="*.tmp",  # type: ignore[arg-type]
            )
        )  # fmt: skip


def test_a_list_of_patterns_still_works(tmp_path: Path) -> None:
    remote = MemoryRemote()
    report = bmsync.sync_project_blocking(
        notes(tmp_path), URL, state_dir=tmp_path / "st", remote=remote, ignore=["*.tmp"]
    )
    assert report.uploaded == ["a.md"] and set(remote.contents()) == {"a.md"}


def test_check_with_zero_transfers_is_an_error_not_a_hang(tmp_path: Path) -> None:
    """`transfers=0` left every comparison waiting for a free slot forever."""

    async def check() -> None:
        await asyncio.wait_for(
            bmsync.check_project(
                notes(tmp_path), URL, state_dir=tmp_path / "st", remote=MemoryRemote(),
                transfers=0,
            ),
            timeout=30,
        )  # fmt: skip

    with pytest.raises(ConfigError, match="transfers"):
        asyncio.run(check())


def test_a_dry_run_with_work_to_do_is_not_in_sync(tmp_path: Path) -> None:
    root = notes(tmp_path)
    state = tmp_path / "st"
    remote = MemoryRemote()
    dry = bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote, dry_run=True)
    assert dry.status == "ok" and dry.uploaded and not dry.in_sync
    real = bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote)
    assert real.in_sync
    again = bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote, dry_run=True)
    assert again.in_sync and not again.changed


def test_the_blocking_form_shows_every_parameter() -> None:
    """`sync_project_blocking(*args, **kwargs)` hid every parameter from IDEs and type checkers."""
    blocking = inspect.signature(bmsync.sync_project_blocking)
    asynchronous = inspect.signature(bmsync.sync_project)
    assert blocking.parameters == asynchronous.parameters
    assert blocking.return_annotation == asynchronous.return_annotation


def test_options_of_fixed_words_are_typed_as_those_words() -> None:
    hints = inspect.get_annotations(bmsync.sync_project, eval_str=True)
    assert "Literal['safe', 'balanced', 'fast']" in str(hints["profile"])
    assert "'keep-both'" in str(hints["conflict"])


def test_setting_up_a_run_never_blocks_the_callers_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading ignore files and resolving paths is disk work: a notebook's loop (or
    basic-memory's server) must not stall on it. It now runs in a worker thread."""
    threads: list[threading.Thread] = []
    real_load = ignore_module.IgnoreRules.load.__func__  # type: ignore[attr-defined]

    def recording_load(cls: Any, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real_load(cls, *args, **kwargs)

    monkeypatch.setattr(ignore_module.IgnoreRules, "load", classmethod(recording_load))
    root, state, remote = notes(tmp_path), tmp_path / "st", MemoryRemote()

    async def caller() -> threading.Thread:
        await bmsync.sync_project(root, URL, state_dir=state, remote=remote)
        await bmsync.check_project(root, URL, state_dir=state, remote=remote)
        return threading.current_thread()

    loop_thread = asyncio.run(caller())
    assert len(threads) == 2 and all(t is not loop_thread for t in threads)


def test_library_warnings_reach_no_stderr_unless_the_application_asks() -> None:
    """A notebook showed bmsync's warnings unasked (Python's last-resort handler)."""
    code = (
        "import logging, bmsync; "
        "logging.getLogger('bmsync.s3.remote').warning('store ignores conditional writes')"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert quiet.stderr == ""
    configured = subprocess.run(
        [sys.executable, "-c", "import logging; logging.basicConfig(); " + code],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "store ignores conditional writes" in configured.stderr
