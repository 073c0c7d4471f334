"""Benchmark: bmsync against `rclone bisync`, side by side, on one local `rclone serve s3`.

    .venv/bin/python benchmarks/bench_sync.py [--files 1000 5000] [--out benchmarks/RESULTS.md]

For each N it runs two passes on fresh copies of the same synthetic knowledge base: a timed
pass (the tools talk to the server directly) and a counted pass (through a relay that counts
the HTTP requests; the relay's extra hop would distort the timings, hence two passes). See
README.md in this folder for what each scenario measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from chart import chart_link, chart_path, draw_chart, retire_chart_links
from counting_proxy import CountingProxy, RequestParser
from latency_relay import endpoint_through
from results import RunMeta, SizeResult, render_section, write_results
from s3server import S3Server, free_port, make_client, running_server
from scenarios import NO_CHANGE_RUNS, Outcome, World, new_world, run_scenarios
from source import BmsyncSource, pythonpath_env, snapshot
from tools import Bmsync, RcloneBisync, Tool

REPO = Path(__file__).resolve().parent.parent
BMSYNC_BUCKET = "bench-bmsync"
RCLONE_BUCKET = "bench-rclone"
SELFCHECK_BUCKET = "bench-selfcheck"
STARTUP_RUNS = 3
MIN_FILES = 145  # the scenarios edit, delete and touch 145 distinct notes


_T = TypeVar("_T")


@dataclass
class Context:
    """What every pass needs: the options, the binaries, the server's client and the relay."""

    files: list[int]
    seed: int
    bmsync: Path
    rclone: Path
    workdir: Path
    bmsync_env: dict[str, str]
    """PYTHONPATH to the frozen copy of bmsync (see source.py)."""
    latencies: list[float] = field(default_factory=lambda: [0.0])
    repeat: int = 1
    client: Any = None
    proxy: CountingProxy | None = None
    tools_seen: list[Tool] = field(default_factory=list)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 5000], metavar="N")
    parser.add_argument("--seed", type=int, default=20241123)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    parser.add_argument("--no-count", action="store_true", help="skip the request-counting pass")
    parser.add_argument(
        "--worktree",
        action="store_true",
        help="benchmark the working tree's bmsync/ (copied at the start) instead of HEAD",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="+",
        default=[0.0],
        metavar="MS",
        help="round-trip times to add through the latency relay (0: loopback, no relay)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="timed passes per N and latency, on fresh copies (medians over all of them)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        default=None,
        help="the PNG chart (default: chart.png next to --out, overwritten by each run)",
    )
    args = parser.parse_args(argv)
    if min(args.files) < MIN_FILES:
        parser.error(f"--files must be at least {MIN_FILES}")
    return args


def venv_bin(name: str) -> Path:
    """Console scripts installed next to the interpreter (the project's venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"{name} not found next to {sys.executable}; use the project's venv")
    return path


def command_output(argv: list[str]) -> str:
    """Read-only commands for the header; a failure is shown rather than fatal."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as err:
        return f"unavailable ({err})"


def first_match(path: str, prefix: str) -> str:
    for line in Path(path).read_text().splitlines():
        if line.startswith(prefix):
            return line.split(":", 1)[1].strip()
    return "unknown"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_lines(rclone: Path, source: BmsyncSource) -> list[str]:
    """What a reader needs to weigh the figures, including which bmsync code ran."""
    rclone_version = command_output([str(rclone), "version"]).splitlines()[0]
    mem_kib = int(first_match("/proc/meminfo", "MemTotal").split()[0])
    return [
        f"nproc: {len(os.sched_getaffinity(0))}; CPU: {first_match('/proc/cpuinfo', 'model name')}"
        f"; RAM: {mem_kib / (1 << 20):.1f} GiB",
        f"Python {sys.version.split()[0]}; {rclone_version}",
        f"bmsync: {source.description}",
        f"load average (1/5/15 min) at start: {loadavg()}; other work may be running on "
        "this machine, see the per-N load figures",
    ]


def startup_floor(ctx: Context) -> str:
    """What a process costs before any sync work: imports for bmsync, nothing much for rclone.

    Run before the passes, it also warms the page cache so the first timed run is not the only
    one paying for cold reads of the interpreter and libraries.
    """
    cells = []
    for label, argv in (
        ("`bmsync --help`", [str(ctx.bmsync), "--help"]),
        ("`rclone version`", [str(ctx.rclone), "version"]),
    ):
        env = {**os.environ, **ctx.bmsync_env}
        walls = []
        for _ in range(STARTUP_RUNS):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True, env=env)
            walls.append(time.perf_counter() - start)
        cells.append(f"{label} {statistics.median(walls):.2f} s")
    return (
        f"Start-up floor (median of {STARTUP_RUNS}, a process doing no sync work): "
        + ", ".join(cells)
        + "."
    )


def check_counting(proxy: CountingProxy, server: S3Server) -> None:
    """Prove the counting on known traffic before trusting it: offline framing, then live."""
    check_parser_offline()
    client = make_client(f"http://127.0.0.1:{proxy.port}")
    proxy.take()
    client.create_bucket(Bucket=SELFCHECK_BUCKET)
    client.put_object(Bucket=SELFCHECK_BUCKET, Key="a/x.md", Body=b"x" * 3000)
    client.put_object(Bucket=SELFCHECK_BUCKET, Key="a/y.md", Body=b"")
    client.head_object(Bucket=SELFCHECK_BUCKET, Key="a/x.md")
    client.get_object(Bucket=SELFCHECK_BUCKET, Key="a/x.md")["Body"].read()
    client.list_objects_v2(Bucket=SELFCHECK_BUCKET, Prefix="a/")
    client.copy_object(
        Bucket=SELFCHECK_BUCKET, Key="a/z.md", CopySource=f"{SELFCHECK_BUCKET}/a/x.md"
    )
    client.delete_object(Bucket=SELFCHECK_BUCKET, Key="a/y.md")
    client.close()
    got = Counter({op: n for (_bucket, op), n in proxy.take().items()})
    want = Counter({"PUT": 3, "HEAD": 1, "GET": 1, "LIST": 1, "COPY": 1, "DELETE": 1})
    if got != want:
        raise SystemExit(f"request counting is off: counted {dict(got)}, made {dict(want)}")


def check_parser_offline() -> None:
    """Chunked, sized and empty bodies on one keep-alive stream, fed in awkward pieces."""
    stream = (
        b"PUT /b/k1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n3\r\nGET\r\n0\r\nx-amz-trailer: v\r\n\r\n"
        b"PUT /b/k2 HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET /b/k3 HTTP/1.1"
        b"HEAD /b/k1 HTTP/1.1\r\n\r\n"
        b"GET /b?list-type=2&prefix=p%2F HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    )
    want = Counter({("b", "PUT"): 2, ("b", "HEAD"): 1, ("b", "LIST"): 1})
    for piece in (1, 2, 7, 64, len(stream)):
        counts: Counter[tuple[str, str]] = Counter()
        parser = RequestParser(counts, threading.Lock())
        for i in range(0, len(stream), piece):
            parser.feed(stream[i : i + piece])
        if counts != want:
            raise SystemExit(f"request parser is off (pieces of {piece}): {dict(counts)}")


def make_tools(
    base: Path, endpoint: str, bmsync: Path, bmsync_env: dict[str, str], rclone: Path
) -> list[Tool]:
    """Each tool gets its own folder and bucket; the prefix names the N and the pass."""
    prefix = f"{base.name}"
    tools: list[Tool] = [
        Bmsync(
            bmsync,
            extra_env=bmsync_env,
            local=base / "bmsync" / "notes",
            bucket=BMSYNC_BUCKET,
            prefix=prefix,
            endpoint=endpoint,
            home=base / "bmsync",
        ),
        RcloneBisync(
            rclone,
            local=base / "rclone" / "notes",
            bucket=RCLONE_BUCKET,
            prefix=prefix,
            endpoint=endpoint,
            home=base / "rclone",
        ),
    ]
    for tool in tools:
        tool.home.mkdir(parents=True, exist_ok=True)
        if isinstance(tool, RcloneBisync):
            tool.write_config()
    return tools


def run_pass(
    ctx: Context,
    count: int,
    name: str,
    endpoint: str,
    proxy: CountingProxy | None,
    no_change_runs: int = NO_CHANGE_RUNS,
) -> tuple[World, dict[tuple[str, str], Outcome], list[Tool]]:
    print(f"N={count}, {name} pass", flush=True)
    base = ctx.workdir / f"n{count}-{name}"
    tools = make_tools(base, endpoint, ctx.bmsync, ctx.bmsync_env, ctx.rclone)
    world = new_world(count, ctx.seed, ctx.client, [t.local for t in tools])
    return world, run_scenarios(world, tools, proxy, no_change_runs), tools


def run_size(ctx: Context, count: int, endpoint: str, latency_ms: float) -> SizeResult:
    """`repeat` timed passes (fresh copies each; with several, one no-change run per pass),
    their runs merged so the tables show medians over all; then one counted pass on loopback."""
    load_before = loadavg()
    timed: dict[tuple[str, str], Outcome] = {}
    no_change_runs = NO_CHANGE_RUNS if ctx.repeat == 1 else 1
    for rep in range(ctx.repeat):
        name = f"timed{rep + 1}-rtt{latency_ms:g}"
        world, outcomes, tools = run_pass(ctx, count, name, endpoint, None, no_change_runs)
        ctx.tools_seen = ctx.tools_seen or tools
        for key, outcome in outcomes.items():
            merged = timed.setdefault(key, Outcome())
            merged.runs += outcome.runs
            merged.problem = merged.problem or outcome.problem
    counted = None
    if ctx.proxy is not None and latency_ms == 0:
        relay = f"http://127.0.0.1:{ctx.proxy.port}"
        _, counted, _ = run_pass(ctx, count, "counted", relay, ctx.proxy)
    return SizeResult(
        count=count,
        total_bytes=sum(len(c) for c in world.notes.values()),
        timed=timed,
        counted=counted,
        load_before=load_before,
        load_after=loadavg(),
        latency_ms=latency_ms,
        repeat=ctx.repeat,
    )


def commands(ctx: Context, server: S3Server) -> list[str]:
    """The exact command lines, with the temporary folder shown as $WORK."""
    lines = [" ".join(server.argv)]
    for tool in ctx.tools_seen:
        lines.append(" ".join(tool.command(first=True)))
        if tool.command(first=False) != tool.command(first=True):
            lines.append(" ".join(tool.command(first=False)))
    for tool in ctx.tools_seen[1:]:
        lines.append(f"# {tool.home / 'rclone.conf'}:")
        lines += (tool.home / "rclone.conf").read_text().splitlines()
    return [line.replace(str(ctx.workdir), "$WORK") for line in lines]


def run(ctx: Context, server: S3Server, count_requests: bool) -> list[SizeResult]:
    ctx.client = make_client(server.endpoint)
    for bucket in (BMSYNC_BUCKET, RCLONE_BUCKET):
        ctx.client.create_bucket(Bucket=bucket)
    if count_requests:
        ctx.proxy = CountingProxy(free_port(), server.port)
        ctx.proxy.start()
    try:
        if ctx.proxy is not None:
            check_counting(ctx.proxy, server)
        results = []
        for latency in ctx.latencies:
            with endpoint_through(server.port, latency) as endpoint:
                results += [run_size(ctx, count, endpoint, latency) for count in ctx.files]
        return results
    finally:
        if ctx.proxy is not None:
            ctx.proxy.stop()


def section_start(title: str, rclone: Path, source: BmsyncSource) -> list[str]:
    """The opening lines of a RESULTS.md section: heading with the date, machine, command."""
    return [
        f"## {command_output(['date', '-u'])}: {title}",
        "",
        "Machine:",
        "",
        *(f"- {m}" for m in machine_lines(rclone, source)),
        "",
        f"Invoked as: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        "",
    ]


def in_workdir(prefix: str, keep: bool, work: Callable[[Path], _T]) -> _T:
    """`work` in a fresh temporary folder, removed afterwards unless `keep`. A SIGTERM ends it
    through the same `finally`s, so the server and the tool being timed are stopped on `kill`."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return work(workdir)
    finally:
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_section(
    prefix: str,
    args: argparse.Namespace,
    run_all: Callable[[argparse.Namespace, Path], tuple[str, bool]],
) -> int:
    """What `bench_floor.py` and `bench_bigfile.py` do: `run_all` in a fresh work folder, its
    section written to `args.out`; the exit code, 1 when a measured run failed."""
    text, failed = in_workdir(prefix, args.keep, lambda work: run_all(args, work))
    write_results(args.out, text)
    print(f"wrote {args.out}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    meta, sizes = in_workdir("bmsync-bench-", args.keep, lambda work: run_all(args, work))
    chart = args.chart or chart_path(args.out)
    if draw_chart(sizes, chart):
        retire_chart_links(args.out, chart.name)
        meta.notes.append(chart_link(chart.name))
    write_results(args.out, render_section(meta, sizes))
    print(f"wrote {args.out} and {chart}")
    failed = any(not o.ok for s in sizes for o in s.timed.values())
    return 1 if failed else 0


def run_all(args: argparse.Namespace, workdir: Path) -> tuple[RunMeta, list[SizeResult]]:
    """Everything that needs the temporary folder, so `main` removes it whatever happens."""
    source = snapshot(REPO, workdir / "bmsync-src", worktree=args.worktree)
    ctx = Context(
        files=args.files,
        seed=args.seed,
        latencies=args.latency_ms,
        repeat=args.repeat,
        bmsync=source.launcher,
        rclone=venv_bin("rclone"),
        workdir=workdir,
        bmsync_env=pythonpath_env(source),
    )
    meta = RunMeta(
        date=command_output(["date", "-u"]),
        machine=machine_lines(ctx.rclone, source),
        commands=[],
        notes=[f"Invoked as: `{' '.join([Path(sys.executable).name, *sys.argv])}`"],
    )
    meta.notes.append(startup_floor(ctx))
    with running_server(ctx.rclone, ctx.workdir) as server:
        sizes = run(ctx, server, count_requests=not args.no_count)
        meta.commands = commands(ctx, server)
    return meta, sizes


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
