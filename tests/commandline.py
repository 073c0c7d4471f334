"""Running `bmsync` as a user does: `python -m bmsync.cli` in a subprocess, with a server's keys.

Shared by the tests that drive the real command (`test_cli.py`, `test_integration.py`), so each
runs it the same way: this interpreter, the caller's environment (PYTHONPATH included), a
timeout, and no global `.bmignore` of the developer's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bmsync.s3.config import S3Config


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bmsync.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def cli_env(config: S3Config, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=config.access_key_id or "",
        AWS_SECRET_ACCESS_KEY=config.secret_access_key or "",
        AWS_DEFAULT_REGION="us-east-1",
        BASIC_MEMORY_CONFIG_DIR=str(tmp_path / "bm-config"),
    )
    return env
