"""Benchmark: one large file each way with `bmsync sync`, against plain aiobotocore.

    .venv/bin/python benchmarks/bench_bigfile.py [--size-mib 1024] [--latency-ms 0 20]

One file of random bytes. For each latency, `--repeat` rounds of: `bmsync sync` of a folder
holding only that file into an empty remote prefix (a multipart upload), then `bmsync sync` of
an empty folder, with no state, from that prefix (one streamed GET); and the same two transfers
by `plain_client.py` (upload: parts of bmsync's `PART_BYTES`, `PARTS_IN_FLIGHT` at once, as bmsync
sends one file's parts; download: one GET read in bmsync's `CHUNK_BYTES`), and the plain upload
once more with a Content-MD5 on every part, as bmsync sends them (the store checks it: CPU on
both sides). Every process is a subprocess (the latency relay runs in this one): wall clock,
CPU and peak RSS of each, and the server's CPU during it. Every download is checked against
the source's MD5. Throughput is the file's size over the whole
process's wall time; the plain client's transfer alone (without its start and imports) is
shown too.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_sync import REPO, loadavg, run_section, section_start, venv_bin
from latency_relay import endpoint_through
from results import link_name, rounds_heading, spread
from s3server import S3Server, make_client, running_server
from source import pythonpath_env, snapshot
from tools import Bmsync, Measured, RunResult, clean_env, run_measured

BUCKET = "bench-big"
FILE_NAME = "big.bin"
PLAIN_CLIENT = Path(__file__).resolve().parent / "plain_client.py"
PART_MIB = 8
"""bmsync/s3/multipart.py PART_BYTES (8 MiB)."""
PARTS_IN_FLIGHT = 2
"""bmsync/s3/multipart.py PARTS_IN_FLIGHT: parts of one upload sent at once."""
CHUNK_KIB = 1024
"""bmsync/s3/reads.py CHUNK_BYTES (1 MiB): a download is read and written a chunk at a time."""
DIRECTIONS = ("up", "down")
RSS_TARGET_MIB = 150e6 / (1 << 20)


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    rss_mib: float
    transfer_s: float | None = None
    """The plain client's own timing of the transfer alone."""
    server_cpu_s: float = 0.0
    """The S3 server's CPU during the run (it shares the machine's cores)."""


TOOLS = ("bmsync", "plain", "plain-md5")
NAMES = {
    "bmsync": "`bmsync sync`",
    "plain": "plain aiobotocore",
    "plain-md5": "plain aiobotocore + Content-MD5",
}


@dataclass
class LinkResult:
    latency_ms: float
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    """{(tool, direction): one sample per round}; tool is "bmsync" or "plain"."""
    loads: list[str] = field(default_factory=list)
    problem: str | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument(
        "--latency-ms", type=float, nargs="+", default=[0.0, 20.0], metavar="MS",
        help="round-trip times through the latency relay (0: loopback, no relay)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="rounds per latency")
    parser.add_argument("--seed", type=int, default=20241123)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def write_random(path: Path, size_mib: int, seed: int) -> str:
    """`size_mib` MiB of pseudo-random (incompressible) bytes from `seed`; returns the MD5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as handle:
        for _ in range(size_mib):
            block = rng.randbytes(1 << 20)
            md5.update(block)
            handle.write(block)
    return md5.hexdigest()


def md5_file(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while data := handle.read(8 << 20):
            md5.update(data)
    return md5.hexdigest()


def plain(
    command: str, endpoint: str, key: str, file: Path, log: Path, content_md5: bool = False
) -> Measured:
    size_flag = (
        ["--part-mib", str(PART_MIB), "--parts-in-flight", str(PARTS_IN_FLIGHT)]
        if command == "upload"
        else []
    )
    size_flag = size_flag or ["--chunk-kib", str(CHUNK_KIB)]
    argv = [
        sys.executable, str(PLAIN_CLIENT), command, "--endpoint", endpoint, "--bucket", BUCKET,
        "--key", key, "--file", str(file), *size_flag, *(["--content-md5"] if content_md5 else []),
    ]  # fmt: skip
    return run_measured(argv, clean_env({}), log.parent, log)


def from_run(run: RunResult, server_cpu_s: float) -> Sample:
    return Sample(run.wall_s, run.cpu_s, run.peak_rss_mib, server_cpu_s=server_cpu_s)


def from_plain(measured: Measured, server_cpu_s: float) -> Sample:
    report: dict[str, Any] = json.loads(measured.proc.stdout)
    return Sample(
        measured.wall_s, measured.cpu_s, measured.peak_rss_mib, report["transfer_s"], server_cpu_s
    )


def one_round(
    base: Path, endpoint: str, source: Path, md5: str, launcher: Path, env: dict[str, str],
    order: tuple[str, ...], client: Any, server: S3Server,
) -> dict[tuple[str, str], Sample]:  # fmt: skip
    """Every tool, each direction it runs; raises RuntimeError with the reason on any failure."""
    found: dict[tuple[str, str], Sample] = {}
    prefix = base.name
    for tool in order:
        if tool == "bmsync":
            up_dir, down_dir = base / "bmsync-up", base / "bmsync-down"
            up_dir.mkdir(parents=True)
            down_dir.mkdir(parents=True)
            os.link(source, up_dir / FILE_NAME)  # same bytes and mtime, no copy
            for direction, local in (("up", up_dir), ("down", down_dir)):
                before = server.cpu_s()
                run = Bmsync(
                    launcher,
                    extra_env=env,
                    local=local,
                    bucket=BUCKET,
                    prefix=f"bm-{prefix}",
                    endpoint=endpoint,
                    home=base / f"bmsync-{direction}-home",
                ).run(first=True, label=direction)
                want = f"{direction} 1"
                if run.problem is not None or run.summary != want:
                    raise RuntimeError(f"bmsync {direction}: {run.problem or run.summary}")
                found["bmsync", direction] = from_run(run, server.cpu_s() - before)
            got = md5_file(down_dir / FILE_NAME)
            shutil.rmtree(up_dir)
            shutil.rmtree(down_dir)
        elif tool == "plain":
            key = f"plain-{prefix}/{FILE_NAME}"
            target = base / "plain-down.bin"
            for direction in DIRECTIONS:
                before = server.cpu_s()
                measured = plain(
                    "upload" if direction == "up" else "download", endpoint, key,
                    source if direction == "up" else target, base / "plain" / f"{direction}.log",
                )  # fmt: skip
                if measured.proc.returncode != 0:
                    raise RuntimeError(f"plain {direction}: {measured.proc.stderr[-2000:]}")
                found["plain", direction] = from_plain(measured, server.cpu_s() - before)
            got = md5_file(target)
            target.unlink()
        else:  # plain-md5: the upload only, checked by the ETag the server lists
            key = f"plain-md5-{prefix}/{FILE_NAME}"
            before = server.cpu_s()
            measured = plain("upload", endpoint, key, source, base / "plain-md5" / "up.log", True)
            if measured.proc.returncode != 0:
                raise RuntimeError(f"plain-md5 up: {measured.proc.stderr[-2000:]}")
            found["plain-md5", "up"] = from_plain(measured, server.cpu_s() - before)
            got = client.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
        if got != md5:
            raise RuntimeError(f"{tool}: the stored file's MD5 is {got}, not {md5}")
        print("  " + describe_round(found, tool), flush=True)
    for key in (f"bm-{prefix}", f"plain-{prefix}", f"plain-md5-{prefix}"):
        client.delete_object(Bucket=BUCKET, Key=f"{key}/{FILE_NAME}")
    return found


def describe_round(found: dict[tuple[str, str], Sample], tool: str) -> str:
    parts = []
    for direction in DIRECTIONS:
        if (s := found.get((tool, direction))) is not None:
            parts.append(
                f"{direction} {s.wall_s:.2f}s cpu {s.cpu_s:.2f}s server cpu "
                f"{s.server_cpu_s:.2f}s rss {s.rss_mib:.0f} MiB"
            )
    return f"{tool:<9} " + "; ".join(parts)


def run_link(
    latency: float, args: argparse.Namespace, workdir: Path, server: S3Server, source: Path,
    md5: str, launcher: Path, env: dict[str, str],
) -> LinkResult:  # fmt: skip
    result = LinkResult(latency)
    client = make_client(server.endpoint)
    with endpoint_through(server.port, latency) as endpoint, contextlib.closing(client):
        for rnd in range(args.repeat):
            print(f"{latency:g} ms, round {rnd + 1}", flush=True)
            result.loads.append(loadavg())
            order = TOOLS[rnd % 3 :] + TOOLS[: rnd % 3]
            base = workdir / f"rtt{latency:g}-r{rnd + 1}"
            try:
                found = one_round(base, endpoint, source, md5, launcher, env, order, client, server)
            except RuntimeError as err:
                result.problem = f"round {rnd + 1}: {err}"
                return result
            for key, sample in found.items():
                result.samples.setdefault(key, []).append(sample)
        result.loads.append(loadavg())
    return result


def render(result: LinkResult, size: int) -> list[str]:
    title = f"{size / (1 << 20):g} MiB each way, {link_name(result.latency_ms)}"
    lines = rounds_heading(title, result.loads)
    if result.problem is not None:
        return [*lines, f"FAILED: {result.problem}", ""]
    rounds = len(result.samples["bmsync", "up"])
    lines += [
        f"{rounds} rounds, medians (min–max in brackets); MB/s = 10^6 bytes per second of the "
        "whole process; server CPU: `rclone serve s3`'s during the run:",
        "",
        "| direction | tool | wall s | MB/s | CPU s | server CPU s | peak RSS MiB "
        "| transfer alone s (MB/s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for direction in DIRECTIONS:
        for tool in TOOLS:
            if (tool, direction) not in result.samples:
                continue
            ss = result.samples[tool, direction]
            rates = [size / 1e6 / s.wall_s for s in ss]
            alone = "—"
            if tool != "bmsync":
                ts = [s.transfer_s or 0.0 for s in ss]
                alone = f"{spread(ts)} ({size / 1e6 / statistics.median(ts):.0f})"
            lines.append(
                f"| {direction} | {NAMES[tool]} | {spread([s.wall_s for s in ss])} | "
                f"{spread(rates, '.0f')} | {spread([s.cpu_s for s in ss])} | "
                f"{spread([s.server_cpu_s for s in ss])} | "
                f"{max(s.rss_mib for s in ss):.0f} | {alone} |"
            )
    lines.append("")
    for direction in DIRECTIONS:
        bm = statistics.median(s.wall_s for s in result.samples["bmsync", direction])
        pl = statistics.median(s.wall_s for s in result.samples["plain", direction])
        alone_s = statistics.median(s.transfer_s or 0.0 for s in result.samples["plain", direction])
        rss = max(s.rss_mib for s in result.samples["bmsync", direction])
        lines.append(
            f"- {direction}: bmsync's throughput is **{pl / bm:.0%}** of plain aiobotocore's "
            f"(whole processes; target ≥ 80 %), {alone_s / bm:.0%} of the plain transfer alone; "
            f"bmsync's peak RSS {rss:.0f} MiB (target < 150 MB = {RSS_TARGET_MIB:.0f} MiB)."
        )
    plain_up = statistics.median(s.wall_s for s in result.samples["plain", "up"])
    md5_up = statistics.median(s.wall_s for s in result.samples["plain-md5", "up"])
    bm_up = statistics.median(s.wall_s for s in result.samples["bmsync", "up"])
    lines.append(
        "- up, the same plain client sending a Content-MD5 with every part: "
        f"**{plain_up / md5_up:.0%}** of its throughput without; bmsync's is "
        f"{md5_up / bm_up:.0%} of that."
    )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    return run_section("bmsync-bigfile-", parse_args(argv), run_all)


def run_all(args: argparse.Namespace, workdir: Path) -> tuple[str, bool]:
    source = snapshot(REPO, workdir / "bmsync-src", worktree=False)
    env = pythonpath_env(source)
    rclone = venv_bin("rclone")
    big = workdir / "source" / FILE_NAME
    md5 = write_random(big, args.size_mib, args.seed)
    size = big.stat().st_size
    lines = section_start(f"one {args.size_mib} MiB file each way", rclone, source)
    results = []
    with running_server(rclone, workdir) as server:
        make_client(server.endpoint).create_bucket(Bucket=BUCKET)
        for latency in args.latency_ms:
            results.append(run_link(latency, args, workdir, server, big, md5, source.launcher, env))
        commands = [
            " ".join(server.argv),
            f"{source.launcher} sync $WORK/rttL-rR/bmsync-up s3://{BUCKET}/bm-rttL-rR "
            "--endpoint-url http://127.0.0.1:PORT --region us-east-1 "
            "--state-dir $WORK/rttL-rR/bmsync-up-home/state --json",
            f"{source.launcher} sync $WORK/rttL-rR/bmsync-down s3://{BUCKET}/bm-rttL-rR "
            "--endpoint-url http://127.0.0.1:PORT --region us-east-1 "
            "--state-dir $WORK/rttL-rR/bmsync-down-home/state --json",
            f"python {PLAIN_CLIENT.name} upload --endpoint http://127.0.0.1:PORT "
            f"--bucket {BUCKET} --key plain-rttL-rR/{FILE_NAME} --file $WORK/source/{FILE_NAME} "
            f"--part-mib {PART_MIB} --parts-in-flight {PARTS_IN_FLIGHT}",
            f"python {PLAIN_CLIENT.name} download --endpoint http://127.0.0.1:PORT "
            f"--bucket {BUCKET} --key plain-rttL-rR/{FILE_NAME} "
            f"--file $WORK/rttL-rR/plain-down.bin --chunk-kib {CHUNK_KIB}",
        ]
    lines += ["Commands (PORT: the server, or the relay for a latency above 0):", "", "```"]
    lines += [c.replace(str(workdir), "$WORK") for c in commands]
    lines += ["```", ""]
    for result in results:
        lines += render(result, size)
    return "\n".join(lines), any(r.problem is not None for r in results)


if __name__ == "__main__":
    sys.exit(main())
