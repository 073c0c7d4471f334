"""Benchmark: the first sync of a new project (upload every note) against its floor.

    .venv/bin/python benchmarks/bench_first_sync.py [--files 5000] [--latency-ms 0 20]

The floor is `plain_client.py put-all`: plain aiobotocore putting every file once, with the
Content-MD5 bmsync sends and the same number in flight, and nothing else (no scan, no snapshot,
no checks). For each latency, `--repeat` rounds of three subprocesses in rotating order, each
into a fresh prefix from its own hard-linked copy of the same notes: `bmsync sync` (no state),
the floor, and `rclone bisync --resync` with basic-memory's flags. Each is timed (wall, CPU,
peak RSS) and so is the server's CPU during it (`rclone serve s3` shares the machine's cores
with the client on loopback), and each prefix must end up holding every note. The ratios say
how far bmsync is from the floor, and how far the floor itself is from rclone bisync.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_sync import REPO, loadavg, run_section, section_start, venv_bin
from kb import generate
from latency_relay import endpoint_through
from results import link_name, rounds_heading, spread
from s3server import S3Server, list_etags, make_client, running_server
from source import pythonpath_env, snapshot
from tools import Bmsync, Measured, RcloneBisync, clean_env, run_measured

BUCKET = "bench-first"
PLAIN_CLIENT = Path(__file__).resolve().parent / "plain_client.py"
IN_FLIGHT = 32
"""bmsync/s3/client.py MAX_REQUESTS_IN_FLIGHT: small transfers at once."""
TOOLS = ("bmsync", "floor", "rclone")
NAMES = {
    "bmsync": "`bmsync sync`",
    "floor": "floor: plain aiobotocore PUTs",
    "rclone": "`rclone bisync --resync`",
}


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    server_cpu_s: float
    rss_mib: float


@dataclass(frozen=True)
class Context:
    notes: Path
    """The generated notes, which every run gets a hard-linked copy of."""
    env: dict[str, str]
    """PYTHONPATH to the frozen copy of bmsync."""
    launcher: Path
    rclone: Path


@dataclass
class LinkResult:
    latency_ms: float
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)
    problem: str | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument(
        "--latency-ms", type=float, nargs="+", default=[0.0], help="0 = loopback, no relay"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds per latency")
    parser.add_argument("--seed", type=int, default=20241123)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def linked_copy(source: Path, target: Path) -> None:
    """The same files (same bytes and mtimes, no copying) in a folder of their own."""
    for folder, _dirs, files in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(Path(folder) / name, here / name)


def run_tool(
    tool: str, base: Path, endpoint: str, ctx: Context, server: S3Server
) -> tuple[Sample, str]:
    """One first sync by `tool` into the prefix `base.name`-`tool`; (sample, prefix)."""
    local = base / tool / "notes"
    linked_copy(ctx.notes, local)
    prefix = f"{base.name}-{tool}"
    before = server.cpu_s()
    if tool == "floor":
        argv = [
            sys.executable, str(PLAIN_CLIENT), "put-all", "--endpoint", endpoint,
            "--bucket", BUCKET, "--prefix", prefix, "--local", str(local),
            "--in-flight", str(IN_FLIGHT),
        ]  # fmt: skip
        measured: Measured = run_measured(argv, clean_env({}), base, base / tool / "run.log")
        if measured.proc.returncode != 0:
            raise RuntimeError(f"floor: {measured.proc.stderr[-2000:]}")
        wall, cpu, rss = measured.wall_s, measured.cpu_s, measured.peak_rss_mib
    else:
        kwargs: dict[str, Any] = dict(local=local, bucket=BUCKET, prefix=prefix, endpoint=endpoint)
        runner: Bmsync | RcloneBisync
        if tool == "bmsync":
            runner = Bmsync(ctx.launcher, extra_env=ctx.env, home=base / tool, **kwargs)
        else:
            runner = RcloneBisync(ctx.rclone, home=base / tool, **kwargs)
            runner.write_config()
        run = runner.run(first=True, label="first")
        if run.problem is not None:
            raise RuntimeError(f"{tool}: {run.problem}")
        wall, cpu, rss = run.wall_s, run.cpu_s, run.peak_rss_mib
    return Sample(wall, cpu, server.cpu_s() - before, rss), prefix


def run_link(
    latency: float, args: argparse.Namespace, workdir: Path, server: S3Server,
    ctx: Context,
) -> LinkResult:  # fmt: skip
    result = LinkResult(latency)
    client = make_client(server.endpoint)
    with endpoint_through(server.port, latency) as endpoint, contextlib.closing(client):
        for rnd in range(args.repeat):
            print(f"{latency:g} ms, round {rnd + 1}", flush=True)
            result.loads.append(loadavg())
            order = TOOLS[rnd % 3 :] + TOOLS[: rnd % 3]
            base = workdir / f"rtt{latency:g}-r{rnd + 1}"
            for tool in order:
                try:
                    sample, prefix = run_tool(tool, base, endpoint, ctx, server)
                except RuntimeError as err:
                    result.problem = f"round {rnd + 1}: {err}"
                    return result
                stored = len(list_etags(client, BUCKET, prefix))
                if stored != args.files:
                    result.problem = f"round {rnd + 1}: {tool} stored {stored} of {args.files}"
                    return result
                result.samples.setdefault(tool, []).append(sample)
                print(
                    f"  {tool:<7} {sample.wall_s:6.2f}s cpu {sample.cpu_s:6.2f}s "
                    f"server cpu {sample.server_cpu_s:6.2f}s rss {sample.rss_mib:.0f} MiB",
                    flush=True,
                )
        result.loads.append(loadavg())
    return result


def render(result: LinkResult, count: int) -> list[str]:
    title = f"First sync of {count:,} notes, {link_name(result.latency_ms)}"
    lines = rounds_heading(title, result.loads)
    if result.problem is not None:
        return [*lines, f"FAILED: {result.problem}", ""]
    rounds = len(result.samples["bmsync"])
    lines += [
        f"{rounds} rounds, medians (min–max in brackets); CPU is the client process's user + "
        "system time, server CPU that of `rclone serve s3` during the run:",
        "",
        "| tool | wall s | CPU s | CPU ms per note | server CPU s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for tool in TOOLS:
        ss = result.samples[tool]
        cpu = statistics.median(s.cpu_s for s in ss)
        lines.append(
            f"| {NAMES[tool]} | {spread([s.wall_s for s in ss])} | "
            f"{spread([s.cpu_s for s in ss])} | {cpu / count * 1000:.2f} | "
            f"{spread([s.server_cpu_s for s in ss])} | {max(s.rss_mib for s in ss):.0f} |"
        )
    wall = {t: statistics.median(s.wall_s for s in result.samples[t]) for t in TOOLS}
    lines += [
        "",
        f"- bmsync takes **{wall['bmsync'] / wall['floor']:.2f}×** the floor's time; "
        f"its speed is **{wall['rclone'] / wall['bmsync']:.2f}×** rclone bisync's.",
        f"- The floor's speed is {wall['rclone'] / wall['floor']:.2f}× rclone bisync's: "
        "what bmsync would reach with no work of its own beyond the PUTs.",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    return run_section("bmsync-first-", parse_args(argv), run_all)


def run_all(args: argparse.Namespace, workdir: Path) -> tuple[str, bool]:
    source = snapshot(REPO, workdir / "bmsync-src", worktree=False)
    rclone = venv_bin("rclone")
    notes = workdir / "source"
    generate(notes, args.files, args.seed)
    ctx = Context(notes, pythonpath_env(source), source.launcher, rclone)
    lines = section_start(f"first sync of {args.files:,} notes against its floor", rclone, source)
    results = []
    with running_server(rclone, workdir) as server:
        make_client(server.endpoint).create_bucket(Bucket=BUCKET)
        for latency in args.latency_ms:
            results.append(run_link(latency, args, workdir, server, ctx))
    lines += [
        "Commands: `bmsync sync LOCAL s3://BUCKET/PREFIX --endpoint-url URL` (no state), "
        f"`python {PLAIN_CLIENT.name} put-all --in-flight {IN_FLIGHT}`, and `rclone bisync "
        "--resync` as in the sections of `bench_sync.py`; one `rclone serve s3` for all.",
        "",
    ]
    for result in results:
        lines += render(result, args.files)
    return "\n".join(lines), any(r.problem is not None for r in results)


if __name__ == "__main__":
    sys.exit(main())
