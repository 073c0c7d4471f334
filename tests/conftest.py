"""Shared fixtures. Keep each fixture small and documented; append new ones below."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import S3TestServer, ServerPool


@pytest.fixture(autouse=True)
def no_global_bmignore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's `~/.basic-memory/.bmignore`: basic-memory's defaults apply
    unless a test writes its own into `BASIC_MEMORY_CONFIG_DIR`."""
    monkeypatch.setenv("BASIC_MEMORY_CONFIG_DIR", str(tmp_path / "bm-config"))


# -- real S3 servers (tests/servers.py) -------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory.mktemp("s3-servers"))
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session", params=["moto", "rclone"])
def s3_server(request: pytest.FixtureRequest, s3_server_pool: ServerPool) -> S3TestServer:
    """Each test using it runs once against moto_server and once against `rclone serve s3`."""
    server: S3TestServer = s3_server_pool.get(request.param)
    return server


@pytest.fixture
def bucket(s3_server: S3TestServer) -> str:
    """A fresh, empty bucket on `s3_server`."""
    return s3_server.create_bucket()


@pytest.fixture
def s3_sync_client(s3_server: S3TestServer) -> Any:
    """A plain botocore client on `s3_server`, to set up or inspect a bucket out of band."""
    return s3_server.client


@pytest.fixture(autouse=True)
def _moto_only_skips_other_servers(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.moto_only("why")` runs a test only in its moto_server instance."""
    marker = request.node.get_closest_marker("moto_only")
    callspec = getattr(request.node, "callspec", None)
    if marker is None or callspec is None:
        return
    server = callspec.params.get("s3_server")
    if server is not None and server != "moto":
        why = marker.args[0] if marker.args else "needs a behaviour only moto_server has"
        pytest.skip(f"moto_only: {why}")
