"""The two sync tools under test, each run as a subprocess exactly as a user would run it.

Both get a clean environment (no inherited AWS_* or RCLONE_* variables, no user config files) so
nothing on the machine changes what they do, and both talk to the same server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s3server import ACCESS_KEY, REGION, SECRET_KEY

RUN_TIMEOUT_S = 900
RCLONE_REMOTE = "bench"
RCLONE_BISYNC_FLAGS = (
    "--conflict-resolve",
    "newer",
    "--max-delete",
    "25",
    "--resilient",
    "--compare",
    "size,modtime",
)
"""The flags Basic Memory used with `rclone bisync` (plus --workdir and --config, added below)."""


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without anything that configures S3 clients or rclone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "BMSYNC_"))}
    env.update(extra)
    return env


@dataclass
class RunResult:
    """One sync subprocess: how long it took, what it cost, and whether it succeeded."""

    wall_s: float
    cpu_s: float
    returncode: int
    log_path: Path
    requests: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    """TCP connections the tool opened (counted pass only)."""
    summary: str = ""
    problem: str | None = None
    load1: float = 0.0
    """The 1-minute load average just before the run: how busy the machine already was."""
    peak_rss_mib: float = 0.0
    """The process's peak resident memory (`VmHWM`, see PeakRss)."""


@dataclass
class Tool:
    """A tool's own copy of the world: its local folder and its bucket/prefix."""

    name: str
    local: Path
    bucket: str
    prefix: str
    endpoint: str
    home: Path
    """A per-tool scratch folder: state, work dir, config, logs."""

    def command(self, first: bool) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def forget_state(self) -> None:
        """Remove what the tool remembers of earlier runs, as on a machine that never synced."""
        raise NotImplementedError

    def judge(self, proc: subprocess.CompletedProcess[str]) -> tuple[str, str | None]:
        """(a short summary of what the run did, a problem or None)."""
        if proc.returncode != 0:
            return "", f"exit code {proc.returncode}"
        return "", None

    def run(self, first: bool, label: str) -> RunResult:
        """Run one sync; wall clock and CPU (user+sys of the child) around the subprocess."""
        log_path = self.home / "logs" / f"{label}.log"
        # cwd: not the repository, whose bmsync/ could shadow the frozen copy.
        measured = run_measured(self.command(first), self.env(), self.home, log_path)
        summary, problem = self.judge(measured.proc)
        if problem is not None:
            problem = f"{problem} (log: {log_path})\n{measured.proc.stderr[-2000:]}"
        return RunResult(
            measured.wall_s,
            measured.cpu_s,
            measured.proc.returncode,
            log_path,
            summary=summary,
            problem=problem,
            load1=measured.load1,
            peak_rss_mib=measured.peak_rss_mib,
        )


@dataclass
class Measured:
    """One subprocess: its output, wall clock, CPU (user+sys), peak RSS, the load before it."""

    proc: subprocess.CompletedProcess[str]
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    load1: float


def run_measured(argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Measured:
    """Run `argv` to completion (killed after RUN_TIMEOUT_S); its output also goes to
    `log_path`, with the command line and exit status."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    load1 = os.getloadavg()[0]
    out_path, err_path = log_path.with_suffix(".out"), log_path.with_suffix(".err")
    with out_path.open("w") as out, err_path.open("w") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd
        )
        timer = threading.Timer(RUN_TIMEOUT_S, child.kill)
        timer.daemon = True
        timer.start()
        peak = PeakRss(child.pid)
        try:
            # wait4, not wait: the child's own CPU time, not all children's.
            _pid, status, usage = os.wait4(child.pid, 0)
        except BaseException:  # SIGTERM or Ctrl-C on the benchmark: take the child with it
            child.kill()
            child.wait()
            raise
        finally:
            timer.cancel()
            peak.stop()
        wall = time.perf_counter() - start
    returncode = os.waitstatus_to_exitcode(status)
    proc = subprocess.CompletedProcess(argv, returncode, out_path.read_text(), err_path.read_text())
    out_path.unlink()
    err_path.unlink()
    log_path.write_text(
        f"$ {' '.join(argv)}\nexit {proc.returncode}\n--- stdout ---\n{proc.stdout}"
        f"\n--- stderr ---\n{proc.stderr}"
    )
    return Measured(proc, wall, usage.ru_utime + usage.ru_stime, peak.kib / 1024, load1)


class PeakRss:
    """The child's peak resident memory, from `VmHWM` in /proc/PID/status, sampled every 20 ms
    until it exits (the last sample is the peak but for its last 20 ms).

    Not `ru_maxrss`: between fork and exec the child still maps the benchmark's own memory, and
    ru_maxrss keeps that, so every tool smaller than the benchmark process showed its size.
    VmHWM belongs to the address space, which exec replaces."""

    def __init__(self, pid: int) -> None:
        self.kib = 0
        self._path = f"/proc/{pid}/status"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            try:
                for line in open(self._path).read().splitlines():  # noqa: SIM115
                    if line.startswith("VmHWM:"):
                        self.kib = max(self.kib, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class Bmsync(Tool):
    def __init__(self, bmsync: Path, extra_env: dict[str, str], **kwargs: Any) -> None:
        """`extra_env`: PYTHONPATH to the frozen copy of the package (benchmarks/source.py)."""
        super().__init__(name="bmsync", **kwargs)
        self._bmsync = bmsync
        self._extra_env = extra_env

    def command(self, first: bool) -> list[str]:
        # The first run needs nothing special: that is part of what is measured.
        return [
            str(self._bmsync),
            "sync",
            str(self.local),
            f"s3://{self.bucket}/{self.prefix}",
            "--endpoint-url",
            self.endpoint,
            "--region",
            REGION,
            "--state-dir",
            str(self.home / "state"),
            "--json",
        ]

    def env(self) -> dict[str, str]:
        return clean_env(
            {
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                # No global .bmignore here, so basic-memory's default ignore rules apply.
                "BASIC_MEMORY_CONFIG_DIR": str(self.home / "bm-config"),
                **self._extra_env,
            }
        )

    def forget_state(self) -> None:
        shutil.rmtree(self.home / "state", ignore_errors=True)

    def judge(self, proc: subprocess.CompletedProcess[str]) -> tuple[str, str | None]:
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            return "", f"exit code {proc.returncode}, no JSON report"
        summary = summarise_report(report)
        if proc.returncode != 0 or report.get("status") != "ok":
            return summary, f"exit code {proc.returncode}, status {report.get('status')}"
        return summary, None


def summarise_report(report: dict[str, Any]) -> str:
    """`up 20, down 20, del-remote 5` from a bmsync JSON report; "nothing" when idle."""
    parts = [
        f"{label} {len(report.get(key) or [])}"
        for key, label in (
            ("uploaded", "up"),
            ("downloaded", "down"),
            ("deleted_local", "del-local"),
            ("deleted_remote", "del-remote"),
            ("conflicts", "conflicts"),
            ("errors", "errors"),
        )
        if report.get(key)
    ]
    return ", ".join(parts) or "nothing"


class RcloneBisync(Tool):
    def __init__(self, rclone: Path, **kwargs: Any) -> None:
        super().__init__(name="rclone bisync", **kwargs)
        self._rclone = rclone
        self.config_path = self.home / "rclone.conf"
        self.workdir = self.home / "bisync-workdir"

    def write_config(self) -> None:
        """A private config file with the S3 remote; `--config` makes rclone read only it."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(rclone_config(self.endpoint))

    def command(self, first: bool) -> list[str]:
        argv = [
            str(self._rclone),
            "bisync",
            str(self.local),
            f"{RCLONE_REMOTE}:{self.bucket}/{self.prefix}",
            *RCLONE_BISYNC_FLAGS,
            "--workdir",
            str(self.workdir),
            "--config",
            str(self.config_path),
        ]
        # bisync refuses to run without prior listings; --resync builds them (a union).
        return [*argv, "--resync"] if first else argv

    def env(self) -> dict[str, str]:
        return clean_env({})

    def forget_state(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def rclone_config(endpoint: str) -> str:
    return (
        f"[{RCLONE_REMOTE}]\n"
        "type = s3\n"
        "provider = Other\n"
        f"access_key_id = {ACCESS_KEY}\n"
        f"secret_access_key = {SECRET_KEY}\n"
        f"endpoint = {endpoint}\n"
        f"region = {REGION}\n"
        "force_path_style = true\n"
    )
