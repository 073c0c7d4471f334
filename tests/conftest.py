"""Shared fixtures. Keep each fixture small and documented; append new ones below."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud_server import CloudServer
from tests.faultproxy import FaultProxy
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


@pytest.fixture
def proxy(s3_server: S3TestServer) -> Iterator[FaultProxy]:
    """A fault proxy (tests/faultproxy.py) in front of `s3_server`: it injects nothing until a
    test sets its policy, and records every request. test_faults.py has its own, seeded one."""
    with FaultProxy(str(s3_server.config.endpoint_url), seed=0) as running:
        yield running


# -- a local stand-in of the Basic Memory Cloud API (tests/cloud_server.py) --------------------


@pytest.fixture
def cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's cloud settings leak in: the key and host come from each test."""
    for name in ("BASIC_MEMORY_CLOUD_API_KEY", "BASIC_MEMORY_CLOUD_HOST", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cloud_api(s3_server: S3TestServer, bucket: str, cloud_env: None) -> Iterator[CloudServer]:
    """The Cloud API stand-in, handing out `bucket` on `s3_server` and that server's keys."""
    config = s3_server.config
    assert config.access_key_id is not None and config.secret_access_key is not None
    with CloudServer(
        bucket=bucket, access_key=config.access_key_id, secret_key=config.secret_access_key
    ) as server:
        yield server


@pytest.fixture
def cloud_http(cloud_env: None) -> Iterator[CloudServer]:
    """The stand-in alone, for tests of the API conversation that never reach S3."""
    with CloudServer(bucket="no-such-bucket", access_key="AK", secret_key="SK") as server:
        yield server


# -- the project folder and state directory most tests sync ------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty project folder, `notes/` under the test's tmp_path. A module that needs it seeded
    overrides `root` by a fixture of that name taking this one (pytest's override by name)."""
    path = tmp_path / "notes"
    path.mkdir()
    return path


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """The state directory beside `root`, not created: bmsync makes it on first use."""
    return tmp_path / "state"
