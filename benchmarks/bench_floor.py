"""Benchmark: a no-change `bmsync sync` of a large project against the floor, the least any
client must do: list every key, and `stat` every local file.

    .venv/bin/python benchmarks/bench_floor.py [--files 10000 100000] [--latency-ms 20]

For each N: N notes (the synthetic knowledge base of bench_sync.py) are written locally and the
same files are put straight into `rclone serve s3`'s data folder (the quickest correct way to a
full remote: the server serves that folder as the bucket). A first `bmsync sync` on loopback
adopts them (it finds both sides equal). Then, through the latency relay, `--repeat` rounds of:
one no-change `bmsync sync`, and the floor measured both ways by `plain_client.py list`
(page after page, and split by top-level folder), each a subprocess. The floor is the faster
listing's median plus the median `stat` of every local file. rclone bisync is not run here: at
100,000 notes it would take far too long (bench_sync.py compares the two tools).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_sync import REPO, loadavg, run_section, section_start, venv_bin
from kb import generate, md5_hex
from latency_relay import endpoint_through
from results import spread
from s3server import list_etags, make_client, running_server
from scenarios import compare
from source import pythonpath_env, snapshot
from tools import Bmsync, Measured, RunResult, clean_env, run_measured

BUCKET = "bench-floor"
PLAIN_CLIENT = Path(__file__).resolve().parent / "plain_client.py"
MODES = ("seq", "split")


@dataclass
class FloorResult:
    """Everything measured for one N."""

    count: int
    total_bytes: int
    latency_ms: float
    adopt: RunResult
    bmsync: list[RunResult] = field(default_factory=list)
    floors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """{mode: [plain_client.py's JSON for each round]}."""
    floor_walls: dict[str, list[float]] = field(default_factory=dict)
    """{mode: the plain client's process wall for each round}."""
    floor_cpus: dict[str, list[float]] = field(default_factory=dict)
    """{mode: the plain client's process CPU (user + sys) for each round}."""
    loads: list[str] = field(default_factory=list)
    """The load average before each round, and once after the last."""
    problem: str | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, nargs="+", default=[10000, 100000], metavar="N")
    parser.add_argument("--latency-ms", type=float, default=20.0, metavar="MS")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per N (medians over them)")
    parser.add_argument("--seed", type=int, default=20241123)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def plain_list(
    endpoint: str, prefix: str, mode: str, local: Path, log: Path
) -> tuple[Measured, dict[str, Any]]:
    argv = [
        sys.executable,
        str(PLAIN_CLIENT),
        "list",
        "--endpoint",
        endpoint,
        "--bucket",
        BUCKET,
        "--prefix",
        prefix,
        "--mode",
        mode,
        "--local",
        str(local),
    ]
    measured = run_measured(argv, clean_env({}), log.parent, log)
    if measured.proc.returncode != 0:
        raise SystemExit(f"plain_client.py failed (log: {log})\n{measured.proc.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(measured.proc.stdout)
    return measured, found


def measure_size(
    count: int,
    args: argparse.Namespace,
    workdir: Path,
    port: int,
    launcher: Path,
    env: dict[str, str],
) -> FloorResult:
    base = workdir / f"n{count}"
    local = base / "notes"
    prefix = f"n{count}"
    notes = {path: (local / path).read_bytes() for path in _relpaths(local)}

    def tool(endpoint: str) -> Bmsync:
        return Bmsync(
            launcher,
            extra_env=env,
            local=local,
            bucket=BUCKET,
            prefix=prefix,
            endpoint=endpoint,
            home=base / "bmsync",
        )

    print(f"N={count}: adopting the seeded remote (loopback)", flush=True)
    adopt = tool(f"http://127.0.0.1:{port}").run(first=True, label="adopt")
    result = FloorResult(count, sum(map(len, notes.values())), args.latency_ms, adopt)
    print(f"  adopt {adopt.wall_s:.2f}s ({adopt.summary}) {adopt.problem or ''}", flush=True)
    if adopt.problem is not None:
        result.problem = f"adopting run: {adopt.problem}"
        return result
    with endpoint_through(port, args.latency_ms) as endpoint:
        for rnd in range(args.repeat):
            result.loads.append(loadavg())
            steps = ["bmsync", *MODES]
            for step in steps[rnd % 3 :] + steps[: rnd % 3]:  # rotate who goes first
                if step == "bmsync":
                    run = tool(endpoint).run(first=False, label=f"nochange{rnd + 1}")
                    result.bmsync.append(run)
                    print(
                        f"  bmsync {run.wall_s:.2f}s cpu {run.cpu_s:.2f}s rss "
                        f"{run.peak_rss_mib:.0f} MiB ({run.summary})",
                        flush=True,
                    )
                    if run.problem is not None or run.summary != "nothing":
                        result.problem = f"no-change run: {run.problem or run.summary}"
                        return result
                    continue
                log = base / "plain" / f"list-{step}{rnd + 1}.log"
                measured, found = plain_list(endpoint, prefix, step, local, log)
                if found["keys"] != count or found["files"] != count:
                    raise SystemExit(f"floor {step} saw {found} for N={count}")
                result.floors.setdefault(step, []).append(found)
                result.floor_walls.setdefault(step, []).append(measured.wall_s)
                result.floor_cpus.setdefault(step, []).append(measured.cpu_s)
                print(
                    f"  floor {step}: list {found['list_s']:.2f}s ({found['pages']} pages) "
                    f"stat {found['stat_s']:.2f}s, process {measured.wall_s:.2f}s",
                    flush=True,
                )
        result.loads.append(loadavg())
    client = make_client(f"http://127.0.0.1:{port}")
    expected = {path: md5_hex(content) for path, content in notes.items()}
    problem = compare(expected, list_etags(client, BUCKET, prefix))
    client.close()
    if problem is not None:
        result.problem = f"remote side wrong after the runs: {problem}"
    return result


def _relpaths(root: Path) -> list[str]:
    return [
        (Path(d) / f).relative_to(root).as_posix()
        for d, _dirs, files in os.walk(root)
        for f in files
    ]


def seed(count: int, seed_: int, workdir: Path) -> None:
    """The notes locally, and the same files (bytes and mtimes) in the server's data folder."""
    local = workdir / f"n{count}" / "notes"
    generate(local, count, seed_)
    shutil.copytree(local, workdir / "s3-data" / BUCKET / f"n{count}")


def render(result: FloorResult, startup_s: float) -> list[str]:
    mib = result.total_bytes / (1 << 20)
    lines = [
        f"### N = {result.count} notes ({mib:.1f} MiB), {result.latency_ms:g} ms RTT relay, "
        f"no-change sync against the floor",
        "",
        f"Remote seeded by copying the notes into the server's data folder; bmsync's first sync "
        f"(loopback) adopted them in {result.adopt.wall_s:.2f} s ({result.adopt.summary}, peak "
        f"RSS {result.adopt.peak_rss_mib:.0f} MiB). Load average (1/5/15 min) before each round "
        f"and after the last: {'; '.join(result.loads)}. rclone bisync: not run at this size.",
        "",
    ]
    if result.problem is not None:
        return [*lines, f"FAILED: {result.problem}", ""]
    walls = [r.wall_s for r in result.bmsync]
    cpus = [r.cpu_s for r in result.bmsync]
    rss = max(r.peak_rss_mib for r in result.bmsync)
    stat = statistics.median(f["stat_s"] for fl in result.floors.values() for f in fl)
    listing = {m: statistics.median(f["list_s"] for f in result.floors[m]) for m in MODES}
    best = min(MODES, key=lambda m: listing[m])
    floor = listing[best] + stat
    lines += [
        f"{len(walls)} rounds, medians (min–max in brackets):",
        "",
        "| measurement | wall s | notes |",
        "|---|---:|---|",
        f"| `bmsync sync`, no change (whole process) | {spread(walls)} | CPU {spread(cpus)} s; "
        f"peak RSS {rss:.0f} MiB (largest) |",
    ]
    for mode in MODES:
        fl = result.floors[mode]
        label = "page after page" if mode == "seq" else "split by top-level folder, all at once"
        lines.append(
            f"| floor listing, {label} | {spread([f['list_s'] for f in fl])} | "
            f"{fl[0]['pages']} page(s); the plain client's whole process "
            f"{spread(result.floor_walls[mode])} s, CPU {spread(result.floor_cpus[mode])} s |"
        )
    lines += [
        f"| floor `stat` of every local file | "
        f"{spread([f['stat_s'] for fl in result.floors.values() for f in fl])} | "
        f"{result.count} files, {len(walls) * len(MODES)} samples |",
        f"| **floor** = fastest listing ({best}) + stat | **{floor:.2f}** | |",
        "",
        f"- bmsync ÷ floor: **{statistics.median(walls) / floor:.2f}×** (target ≤ 1.3×). The "
        f"floor excludes a process start; bmsync's start-up floor (`bmsync --help`) is "
        f"{startup_s:.2f} s: (bmsync − start-up) ÷ floor = "
        f"{(statistics.median(walls) - startup_s) / floor:.2f}×.",
        f"- peak RSS {rss:.0f} MiB (target < 300 MB = 286 MiB).",
        "",
    ]
    return lines


def startup_s(launcher: Path, env: dict[str, str]) -> float:
    """Median of 5 `bmsync --help`: a process that does no sync work."""
    walls = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([str(launcher), "--help"], env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def main(argv: list[str] | None = None) -> int:
    return run_section("bmsync-floor-", parse_args(argv), run_all)


def run_all(args: argparse.Namespace, workdir: Path) -> tuple[str, bool]:
    source = snapshot(REPO, workdir / "bmsync-src", worktree=False)
    env = pythonpath_env(source)
    rclone = venv_bin("rclone")
    lines = section_start("no-change sync against the floor", rclone, source)
    started = time.perf_counter()
    for count in args.files:
        print(f"N={count}: writing the notes and seeding the remote", flush=True)
        seed(count, args.seed, workdir)
    lines += [f"Writing and seeding took {time.perf_counter() - started:.0f} s.", ""]
    start_s = startup_s(source.launcher, {**os.environ, **env})
    results = []
    with running_server(rclone, workdir) as server:
        for count in args.files:
            results.append(measure_size(count, args, workdir, server.port, source.launcher, env))
        commands = [
            " ".join(server.argv),
            f"{source.launcher} sync $WORK/nN/notes s3://{BUCKET}/nN --endpoint-url "
            "http://127.0.0.1:RELAY --region us-east-1 --state-dir $WORK/nN/bmsync/state --json",
            f"python {PLAIN_CLIENT.name} list --endpoint http://127.0.0.1:RELAY --bucket {BUCKET} "
            "--prefix nN --mode seq|split --local $WORK/nN/notes",
        ]
        lines += ["Commands:", "", "```", *(c.replace(str(workdir), "$WORK") for c in commands)]
        lines += ["```", ""]
    for result in results:
        lines += render(result, start_s)
    return "\n".join(lines), any(r.problem is not None for r in results)


if __name__ == "__main__":
    sys.exit(main())
