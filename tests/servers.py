"""Real S3 servers for the integration tests, run as subprocesses on 127.0.0.1.

Two servers because they disagree in ways a sync tool must survive (see shared/S3-SERVERS.md):
moto honours conditional writes and stores any key; `rclone serve s3` ignores conditions, maps
keys to files, lists ETags unquoted and capitalises metadata keys after a copy. A test that passes
on both is coding for the S3 API rather than for one server.

Each server gets a free port, its stderr goes to a log file (a pipe nobody reads would fill up
and stall the server), and `start` waits until it answers HTTP, failing with the log attached.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.config
import botocore.session

from bmsync.remotes import S3Config

REGION = "us-east-1"
MOTO_KEY = ("testing", "testing")  # moto accepts any credentials
RCLONE_KEY = ("bmsync-test-key", "bmsync-test-secret")
START_TIMEOUT_S = 30.0


def _venv_bin(name: str) -> Path:
    """Console scripts installed next to the interpreter running the tests."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(f"{name} not found next to {sys.executable}; install the test extras")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_http(port: int) -> bool:
    """Any HTTP status counts: rclone answers an unsigned request with 403, moto with 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()


@dataclass
class S3TestServer:
    name: str
    config: S3Config
    process: subprocess.Popen[bytes]
    log_path: Path
    honours_conditions: bool
    """Whether If-Match / If-None-Match on writes are enforced (moto) or ignored (rclone)."""
    data_dir: Path | None = None
    """rclone only: the folder served, one sub-folder per bucket."""
    _client: Any = field(default=None, repr=False)

    @property
    def client(self) -> Any:
        """A plain synchronous botocore S3 client for out-of-band setup and inspection."""
        if self._client is None:
            self._client = make_sync_client(self.config)
        return self._client

    def create_bucket(self) -> str:
        name = f"bmsync-test-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def make_sync_client(config: S3Config) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=botocore.config.Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 2},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def _start(
    name: str, argv: list[str], port: int, log_path: Path, key: tuple[str, str]
) -> tuple[subprocess.Popen[bytes], S3Config]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers_http(port):
        if process.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                process.kill()
            state = (
                f"exited with {process.returncode}"
                if process.poll() is not None
                else f"did not answer within {START_TIMEOUT_S:.0f} s"
            )
            raise RuntimeError(
                f"{name} S3 server {state}: {' '.join(argv)}\n"
                f"--- server log ---\n{log_path.read_text(errors='replace')}"
            )
        time.sleep(0.05)
    config = S3Config(
        endpoint_url=f"http://127.0.0.1:{port}",
        region=REGION,
        access_key_id=key[0],
        secret_access_key=key[1],
        addressing_style="path",
    )
    return process, config


def start_moto(workdir: Path) -> S3TestServer:
    port = free_port()
    log_path = workdir / "moto.log"
    argv = [str(_venv_bin("moto_server")), "-H", "127.0.0.1", "-p", str(port)]
    process, config = _start("moto", argv, port, log_path, MOTO_KEY)
    return S3TestServer("moto", config, process, log_path, honours_conditions=True)


def start_rclone(workdir: Path) -> S3TestServer:
    port = free_port()
    data_dir = workdir / "rclone-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "rclone.log"
    argv = [
        str(_venv_bin("rclone")),
        "serve",
        "s3",
        str(data_dir),
        "--addr",
        f"127.0.0.1:{port}",
        "--auth-key",
        ",".join(RCLONE_KEY),
        # No rclone.conf on test machines; without this rclone warns about the missing file.
        "--config",
        "/dev/null",
        # Keep everything in memory and on the served folder: user metadata (our `xxh3`) lives in
        # the server's memory anyway, and `mtime` becomes the file's modification time.
        "--vfs-cache-mode",
        "off",
    ]
    process, config = _start("rclone", argv, port, log_path, RCLONE_KEY)
    return S3TestServer(
        "rclone", config, process, log_path, honours_conditions=False, data_dir=data_dir
    )


class ServerPool:
    """Starts each server on first use and keeps it for the session."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._servers: dict[str, S3TestServer] = {}

    def get(self, name: str) -> S3TestServer:
        if name not in self._servers:
            starters = {"moto": start_moto, "rclone": start_rclone}
            self._servers[name] = starters[name](self._workdir)
        return self._servers[name]

    def stop_all(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
