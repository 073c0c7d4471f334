"""A small project's no-change sync, where a user waits on it: from the command line, and called
again and again in a process that has already imported bmsync (as basic-memory does).

    .venv/bin/python benchmarks/small_project.py 5446e4d HEAD            # loopback and 20 ms
    .venv/bin/python benchmarks/small_project.py HEAD --latency-ms 0 20 80 --out RESULTS.md

For each commit (`git archive`, or `WORKTREE` for the working tree as it is), its `bmsync/` is
unpacked into a temporary folder, compiled to bytecode once (as a wheel install does) and put
first on PYTHONPATH. One `rclone serve s3` serves every run; for each `--latency-ms` above 0 the
tools reach it through `latency_relay.py`. Each commit gets its own copy of a `--notes`-note
project (the benchmark's knowledge base), synced once; then, alternating between the commits:

- command line: `bmsync sync` (quiet) as a new process, wall time from start to exit;
- in-process: one child process imports bmsync, then calls `sync_project` `--calls` times in a
  row on one event loop, and reports each call's wall time (the first, which builds the S3
  client and connects, separately from the median of the rest), and the floor: one
  ListObjectsV2 of the project on an aiobotocore client that is already connected, through the
  same link, in the same process.

The issue's targets: under 0.6 s from the command line; in-process under 50 ms plus one LIST
round trip (the floor).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import startup
from kb import generate
from latency_relay import endpoint_through
from s3server import ACCESS_KEY, REGION, SECRET_KEY, make_client, running_server
from source import compile_and_freeze

REPO = Path(__file__).resolve().parents[1]
BUCKET = "bench-small"
WORKTREE = "WORKTREE"

_IN_PROCESS = """
import asyncio, json, sys, time
from bmsync import S3Config, sync_project
from bmsync.s3.client import open_s3_client

endpoint, local, url, state, calls = sys.argv[1:6]
s3 = S3Config(endpoint_url=endpoint, region={region!r})
bucket, _, prefix = url.removeprefix("s3://").partition("/")

async def main():
    walls = []
    for _ in range(int(calls)):
        started = time.perf_counter()
        report = await sync_project(local, url, s3=s3, state_dir=state)
        walls.append(time.perf_counter() - started)
        assert report.status == "ok" and not report.changed, report
    async with open_s3_client(s3) as client:
        await client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
        floor = []
        for _ in range(int(calls)):
            started = time.perf_counter()
            await client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
            floor.append(time.perf_counter() - started)
    print(json.dumps({{"walls": walls, "floor": floor}}))

asyncio.run(main())
"""


@dataclass
class Copy:
    """One commit's code and its own project (folder, state, prefix)."""

    rev: str
    pythonpath: Path
    local: Path
    state: Path
    url: str


def unpack(rev: str, dest: Path) -> str:
    """`bmsync/` of `rev` into `dest`, compiled; returns the short commit id (or WORKTREE)."""
    if rev != WORKTREE:
        return startup.unpack(rev, dest)
    dest.mkdir(parents=True)
    shutil.copytree(REPO / "bmsync", dest / "bmsync", ignore=shutil.ignore_patterns("__pycache__"))
    compile_and_freeze(dest / "bmsync")
    return WORKTREE


def child_env(pythonpath: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(pythonpath),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }


def cli(copy: Copy, endpoint: str) -> float:
    """One `bmsync sync` as a new process; its wall time."""
    argv = [
        sys.executable,
        "-m",
        "bmsync.cli",
        "sync",
        str(copy.local),
        copy.url,
        "--endpoint-url",
        endpoint,
        "--region",
        REGION,
        "--state-dir",
        str(copy.state),
        "--json",
    ]
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=child_env(copy.pythonpath), cwd=copy.pythonpath, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bmsync sync failed ({done.returncode}): {done.stdout}{done.stderr}")
    return wall


def in_process(copy: Copy, endpoint: str, calls: int) -> dict[str, list[float]]:
    script = _IN_PROCESS.format(region=REGION)
    argv = [sys.executable, "-c", script, endpoint, str(copy.local), copy.url, str(copy.state)]
    done = subprocess.run(
        [*argv, str(calls)],
        env=child_env(copy.pythonpath),
        cwd=copy.pythonpath,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"in-process run failed: {done.stderr}")
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="+", help=f"commits to compare, or {WORKTREE}")
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=11, help="command-line runs per commit")
    parser.add_argument("--calls", type=int, default=30, help="in-process calls per child")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--seed", type=int, default=20241123)
    parser.add_argument("--out", type=Path, help="append the section to this Markdown file")
    args = parser.parse_args()
    rclone = Path(sys.executable).parent / "rclone"
    load_before = os.getloadavg()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bmsync-small-") as tmp_name:
        tmp = Path(tmp_name)
        with running_server(rclone, tmp / "server") as server:
            client = make_client(server.endpoint)
            client.create_bucket(Bucket=BUCKET)
            copies = []
            for i, rev in enumerate(args.revs):
                code = tmp / f"code-{i}"
                label = unpack(rev, code)
                local = tmp / f"project-{i}" / "notes"
                generate(local, args.notes, args.seed)
                copy = Copy(label, code, local, tmp / f"project-{i}" / "state", "")
                copy.url = f"s3://{BUCKET}/small-{i}"
                cli(copy, server.endpoint)  # the first sync: uploads everything
                copies.append(copy)
            for latency in args.latency_ms:
                with endpoint_through(server.port, latency) as endpoint:
                    lines += measure(copies, endpoint, latency, args.runs, args.calls)
    header = [
        f"## A small project's no-change sync, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`benchmarks/small_project.py {' '.join(args.revs)}` ({args.notes} notes, "
        f"{args.runs} command-line runs and {args.calls} in-process calls per commit and link, "
        f"alternating; `rclone serve s3`): {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores. Load average before: "
        f"{' '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.",
        "",
        "| link | commit | command line, median (min-max) ms | in-process first call ms "
        "| in-process later calls, median (min-max) ms | floor: one LIST on an open client, "
        "median ms | in-process minus floor ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    text = "\n".join(header + lines) + "\n"
    print(text)
    if args.out is not None:
        with args.out.open("a") as handle:
            handle.write("\n" + text)
    return 0


def measure(copies: list[Copy], endpoint: str, latency: float, runs: int, calls: int) -> list[str]:
    walls: dict[str, list[float]] = {c.rev: [] for c in copies}
    for _ in range(runs):
        for copy in copies:
            walls[copy.rev].append(cli(copy, endpoint))
    lines = []
    link = "loopback" if latency == 0 else f"{latency:g} ms RTT"
    for copy in copies:
        inner = in_process(copy, endpoint, calls)
        later = inner["walls"][1:]
        floor = statistics.median(inner["floor"])
        cmd = walls[copy.rev]
        lines.append(
            f"| {link} | {copy.rev} | {ms(statistics.median(cmd))} ({ms(min(cmd))}-{ms(max(cmd))})"
            f" | {ms(inner['walls'][0])} | {ms(statistics.median(later))} "
            f"({ms(min(later))}-{ms(max(later))}) | {ms(floor)} "
            f"| {ms(statistics.median(later) - floor)} |"
        )
    return lines


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


if __name__ == "__main__":
    sys.exit(main())
