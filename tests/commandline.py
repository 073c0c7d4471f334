"""Running `bmsync` as a user does: `python -m bmsync.cli` in a subprocess, with a server's keys.

Shared by the tests that drive the real command (`test_cli.py`, `test_integration.py`), so each
runs it the same way: this interpreter, the caller's environment (PYTHONPATH included), a
timeout, and no global `.bmignore` of the developer's. `run_in_terminal` runs it as in a
terminal: stdout and stderr a real pseudo-terminal (or stdout a pipe), 100 columns wide.
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bmsync.remotes import S3Config


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


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    screen: str
    """Everything written to the terminal, escape sequences included."""
    stdout: str
    """With `stdout_is_terminal=False`: what went to stdout (a pipe)."""


TERMINAL_COLUMNS, TERMINAL_ROWS = 100, 30


def run_in_terminal(
    *args: str, env: dict[str, str] | None = None, stdout_is_terminal: bool = True
) -> TerminalRun:
    """`python -m bmsync.cli ARGS` with a pseudo-terminal as stderr (and stdout, unless told),
    read until the command exits. POSIX only (pseudo-terminals)."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(
        slave, termios.TIOCSWINSZ, struct.pack("HHHH", TERMINAL_ROWS, TERMINAL_COLUMNS, 0, 0)
    )
    terminal_env = dict(os.environ if env is None else env, TERM="xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TERM_PROGRAM"):
        terminal_env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bmsync.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_is_terminal else subprocess.PIPE,
        stderr=slave,
        env=terminal_env,
    )
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the command closed the terminal: it has exited
                    break
                if not chunk:
                    break
                screen += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read() if proc.stdout is not None else b""
        returncode = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return TerminalRun(returncode, screen.decode(errors="replace"), out.decode())
