"""The public surface: `__all__` is honest, the blocking wrapper works inside a running loop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import bmsync
from bmsync.cli import parse_headers
from bmsync.errors import ConfigError
from bmsync.options import MaxDelete, TwoWayConflict, parse_max_delete, resolve_options
from bmsync.testing import MemoryRemote


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(bmsync) if not name.startswith("_")}
    submodules = {name for name in public if isinstance(getattr(bmsync, name), ModuleType)}
    assert set(bmsync.__all__) - {"__version__"} == public - submodules
    assert set(bmsync.__all__) - {"__version__"} == set(bmsync._LAZY)
    for name in bmsync.__all__:
        assert getattr(bmsync, name) is not None


def test_sync_project_blocking_inside_a_running_loop(tmp_path: Path) -> None:
    """Jupyter runs cells inside an event loop; the blocking call must still work there."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("a")
    remote = MemoryRemote()

    async def cell() -> bmsync.SyncReport:
        return bmsync.sync_project_blocking(
            root, "s3://memory/p", state_dir=tmp_path / "st", remote=remote
        )

    report = asyncio.run(cell())
    assert report.uploaded == ["a.md"] and remote.contents() == {"a.md": b"a"}
    assert not bmsync.sync_project_blocking(
        root, "s3://memory/p", state_dir=tmp_path / "st", remote=remote
    ).changed


def test_progress_is_reported_per_action(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    for name in ("a.md", "b.md"):
        (root / name).write_text(name)
    heard: list[bmsync.Progress] = []
    bmsync.sync_project_blocking(
        root, "s3://memory/p", state_dir=tmp_path / "st", remote=MemoryRemote(),
        progress=heard.append,
    )  # fmt: skip
    events = [e for e in heard if isinstance(e, bmsync.ProgressEvent)]
    assert sorted(e.path for e in events) == ["a.md", "b.md"]
    assert [(e.done, e.total, e.ok, e.action) for e in events] == [
        (1, 2, True, "upload"),
        (2, 2, True, "upload"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(25, MaxDelete(count=25)), ("25", MaxDelete(count=25)), ("50%", MaxDelete(percent=50.0))],
)
def test_max_delete_parsing(value: int | str, expected: MaxDelete) -> None:
    assert parse_max_delete(value) == expected


@pytest.mark.parametrize("value", ["-1", "lots", "150%", "2.5", -3])
def test_bad_max_delete_is_a_config_error(value: int | str) -> None:
    with pytest.raises(ConfigError):
        parse_max_delete(value)


def test_profiles_and_overrides() -> None:
    safe = resolve_options(profile="safe")
    assert safe.conflict is TwoWayConflict.KEEP_BOTH and safe.max_delete.limit(100) == 10
    fast = resolve_options(profile="fast", conflict="older", max_delete="10%")
    assert not fast.verify and fast.conflict is TwoWayConflict.OLDER
    assert fast.max_delete.limit(200) == 20
    with pytest.raises(ConfigError, match="unknown profile"):
        resolve_options(profile="yolo")
    with pytest.raises(ConfigError, match="transfers"):
        resolve_options(transfers=0)


def test_header_parsing() -> None:
    assert parse_headers(["X-Tigris-Consistent: true"]) == {"X-Tigris-Consistent": "true"}
    with pytest.raises(ConfigError):
        parse_headers(["no colon"])


def test_demo_tells_the_whole_story() -> None:
    """README's first command: `bmsync demo` (here with --json, to check what it did)."""
    done = subprocess.run(
        [sys.executable, "-m", "bmsync.cli", "demo", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    reports = [run["report"] for run in story["runs"]]
    assert [r["status"] for r in reports] == ["ok"] * 4
    assert [len(r["conflicts"]) for r in reports] == [0, 1, 0, 0]
    assert reports[1]["deleted_remote"] == ["daily/2026-11-22.md"]
    assert reports[3]["uploaded"] == ["daily/2026-11-22.md"]
    assert story["restored"]["restored_to"] == "daily/2026-11-22.md"
    assert story["status"]["synced"] and story["status"]["files"] == 5
    assert "daily/2026-11-22.md" in story["local_files"]
    assert any(name.startswith("ideas.conflict-") for name in story["local_files"])


def test_cli_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bmsync.cli", "--version"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == f"bmsync {bmsync.__version__}"


def test_package_and_module_versions_agree() -> None:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    with pyproject.open("rb") as handle:
        assert tomllib.load(handle)["project"]["version"] == bmsync.__version__
