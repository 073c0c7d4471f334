"""`rclone serve s3` on 127.0.0.1 for the benchmark, and a plain botocore client for it.

Adapted from tests/servers.py (benchmarks do not import the tests): a free port, the server's
output to a log file (a pipe nobody reads would fill up and stall it), and a wait until it answers
HTTP, failing with the log attached.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.config
import botocore.session

REGION = "us-east-1"
ACCESS_KEY = "bmsync-bench-key"
SECRET_KEY = "bmsync-bench-secret"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def answers_http(port: int) -> bool:
    """Any HTTP status counts: rclone answers an unsigned request with 403."""
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
class S3Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        """The server's CPU time so far (user + system, from /proc): on loopback it shares the
        machine's cores with the client being timed, so what a client makes it do counts."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)


def server_argv(rclone: Path, data_dir: Path, port: int) -> list[str]:
    return [
        str(rclone),
        "serve",
        "s3",
        str(data_dir),
        "--addr",
        f"127.0.0.1:{port}",
        "--auth-key",
        f"{ACCESS_KEY},{SECRET_KEY}",
        "--config",
        "/dev/null",  # no user config; also silences the missing-config notice
        "--vfs-cache-mode",
        "off",
    ]


@contextlib.contextmanager
def running_server(rclone: Path, workdir: Path) -> Iterator[S3Server]:
    """One server for the whole run, stopped on the way out whatever happened."""
    port = free_port()
    data_dir = workdir / "s3-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "rclone-serve.log"
    argv = server_argv(rclone, data_dir, port)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = S3Server(port, process, log_path, argv)
    try:
        _wait_until_up(server)
        yield server
    finally:
        server.stop()


def _wait_until_up(server: S3Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers_http(server.port):
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"rclone serve s3 did not come up: {' '.join(server.argv)}\n"
                f"--- server log ---\n{server.log_path.read_text(errors='replace')}"
            )
        time.sleep(0.05)


def make_client(endpoint: str) -> Any:
    """A plain synchronous botocore client: the benchmark's own edits and inspections."""
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 2},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def list_etags(client: Any, bucket: str, prefix: str) -> dict[str, str]:
    """{key relative to `prefix`: unquoted ETag} for every object below `prefix/`."""
    found: dict[str, str] = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for entry in page.get("Contents", ()):
            found[entry["Key"][len(prefix) + 1 :]] = entry["ETag"].strip('"')
    return found
