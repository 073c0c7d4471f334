"""RESULTS.md: one dated section per benchmark run, newest first, earlier sections kept."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from scenarios import SCENARIOS, Outcome

TITLE = (
    "# bmsync benchmark results\n\n"
    "Produced by `benchmarks/bench_sync.py`, `bench_floor.py`, `bench_bigfile.py` and "
    "`bench_first_sync.py`; see `benchmarks/README.md`. Start-up sections come from "
    "`benchmarks/startup.py`.\n"
)
OP_ORDER = ("LIST", "HEAD", "GET", "PUT", "COPY", "DELETE", "POST")


@dataclass
class SizeResult:
    """Everything measured for one N."""

    count: int
    total_bytes: int
    timed: dict[tuple[str, str], Outcome]
    counted: dict[tuple[str, str], Outcome] | None
    load_before: str
    load_after: str
    latency_ms: float = 0.0
    """Round-trip time added by the latency relay; 0 for loopback."""
    repeat: int = 1


@dataclass
class RunMeta:
    date: str
    machine: list[str]
    commands: list[str]
    notes: list[str] = field(default_factory=list)


def median_wall(outcome: Outcome) -> float:
    return statistics.median(r.wall_s for r in outcome.runs)


def wall_cell(outcome: Outcome | None) -> str:
    if outcome is None or not outcome.ok:
        return "FAILED"
    if len(outcome.runs) == 1:
        return f"{outcome.runs[0].wall_s:.2f}"
    walls = [r.wall_s for r in outcome.runs]
    return f"{median_wall(outcome):.2f} ({min(walls):.2f}–{max(walls):.2f})"


def cpu_cell(outcome: Outcome | None) -> str:
    if outcome is None or not outcome.ok:
        return "—"
    return f"{statistics.median(r.cpu_s for r in outcome.runs):.2f}"


def rss_cell(outcome: Outcome | None) -> str:
    if outcome is None or not outcome.runs:
        return "—"
    return f"{max(r.peak_rss_mib for r in outcome.runs):.0f}"


def ratio_cell(bm: Outcome | None, rc: Outcome | None) -> str:
    if bm is None or rc is None or not (bm.ok and rc.ok):
        return "—"
    return f"{median_wall(bm) / median_wall(rc):.2f}×"


def requests_text(requests: Counter[str]) -> str:
    ops = [op for op in OP_ORDER if requests.get(op)] + sorted(
        op for op in requests if op not in OP_ORDER
    )
    detail = ", ".join(f"{op} {requests[op]}" for op in ops)
    return f"**{sum(requests.values())}**" + (f": {detail}" if detail else "")


def requests_cell(outcome: Outcome | None) -> str:
    if outcome is None or not outcome.ok:
        return "FAILED"
    counts = [r.requests for r in outcome.runs]
    conns = [r.connections for r in outcome.runs]
    if all(c == counts[0] for c in counts) and len(set(conns)) == 1:
        times = f" (each of {len(counts)} runs)" if len(counts) > 1 else ""
        return f"{requests_text(counts[0])}; {conns[0]} conn.{times}"
    return " / ".join(f"{requests_text(c)}; {n} conn." for c, n in zip(counts, conns, strict=True))


def timing_table(result: SizeResult) -> list[str]:
    lines = [
        "| scenario | bmsync wall s | rclone bisync wall s | bmsync ÷ rclone "
        "| bmsync CPU s | rclone CPU s | peak RSS MiB (bmsync / rclone) | bmsync did |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for sc in SCENARIOS:
        bm, rc = result.timed.get((sc.key, "bmsync")), result.timed.get((sc.key, "rclone bisync"))
        did = bm.runs[-1].summary if bm is not None and bm.runs else "—"
        lines.append(
            f"| {sc.key}. {sc.title} | {wall_cell(bm)} | {wall_cell(rc)} | {ratio_cell(bm, rc)} "
            f"| {cpu_cell(bm)} | {cpu_cell(rc)} | {rss_cell(bm)} / {rss_cell(rc)} | {did} |"
        )
    return lines


def requests_table(counted: dict[tuple[str, str], Outcome]) -> list[str]:
    lines = [
        "| scenario | bmsync requests | rclone bisync requests "
        "| wall s via relay (bmsync / rclone) |",
        "|---|---|---|---|",
    ]
    for sc in SCENARIOS:
        bm, rc = counted.get((sc.key, "bmsync")), counted.get((sc.key, "rclone bisync"))
        lines.append(
            f"| {sc.key} | {requests_cell(bm)} | {requests_cell(rc)} "
            f"| {wall_cell(bm)} / {wall_cell(rc)} |"
        )
    return lines


def problems(outcomes: dict[tuple[str, str], Outcome], label: str) -> list[str]:
    found = []
    for (key, tool), outcome in sorted(outcomes.items()):
        if outcome.problem is not None:
            first = outcome.problem.strip().replace("\n", "\n    ")
            found.append(f"- {label} pass, {key}, {tool}: {first}")
    return found


def observations(result: SizeResult) -> list[str]:
    """One plain sentence per scenario: who was faster, by how much."""
    lines = []
    for sc in SCENARIOS:
        bm, rc = result.timed.get((sc.key, "bmsync")), result.timed.get((sc.key, "rclone bisync"))
        if bm is None or rc is None or not (bm.ok and rc.ok):
            continue
        b, r = median_wall(bm), median_wall(rc)
        verdict = f"{r / b:.1f}× faster" if b < r else f"**{b / r:.1f}× slower**"
        lines.append(f"- {sc.key}: bmsync {b:.2f} s vs rclone bisync {r:.2f} s: bmsync {verdict}.")
    return lines


def load_samples(outcomes: dict[tuple[str, str], Outcome]) -> str:
    loads = sorted(r.load1 for o in outcomes.values() for r in o.runs)
    if not loads:
        return "none"
    return f"min {loads[0]:.2f}, median {statistics.median(loads):.2f}, max {loads[-1]:.2f}"


def render_size(result: SizeResult) -> list[str]:
    mib = result.total_bytes / (1 << 20)
    link = f"{result.latency_ms:g} ms RTT relay" if result.latency_ms else "loopback"
    runs = f", {result.repeat} timed passes" if result.repeat > 1 else ""
    lines = [
        f"### N = {result.count} notes ({mib:.1f} MiB), {link}{runs}",
        "",
        f"Load average (1/5/15 min): {result.load_before} before this N, {result.load_after} "
        "after (this includes the benchmark's own tool, server and relay processes; anything "
        "above about 2 on these 2 cores means runs waited for a CPU). "
        f"Sampled just before each timed run: {load_samples(result.timed)}.",
        "",
        "Timed pass (medians; walls in brackets are min–max; peak RSS is the largest):"
        if result.latency_ms
        else "Timed pass (tools talk to the server directly):",
        "",
        *timing_table(result),
        "",
    ]
    if result.counted is not None:
        lines += [
            "HTTP requests per sync, and the TCP connections they used (separate counted pass "
            "through the counting relay, same scenarios on fresh copies):",
            "",
            *requests_table(result.counted),
            "",
        ]
    lines += observations(result)
    failures = problems(result.timed, "timed")
    if result.counted is not None:
        failures += problems(result.counted, "counted")
    if failures:
        lines += ["", "Failures:", "", *failures]
    return [*lines, ""]


def render_section(meta: RunMeta, sizes: list[SizeResult]) -> str:
    lines = [f"## {meta.date}", "", "Machine:", "", *(f"- {m}" for m in meta.machine), ""]
    lines += ["Commands (`$WORK` is the run's temporary folder):", "", "```"]
    lines += [*meta.commands, "```", ""]
    if meta.notes:
        lines += [*meta.notes, ""]
    for size in sizes:
        lines += render_size(size)
    return "\n".join(lines)


def write_results(out: Path, section: str) -> None:
    """Put the new section first; keep every earlier `## ` section below it."""
    earlier = ""
    if out.exists():
        text = out.read_text(encoding="utf-8")
        start = text.find("\n## ")
        earlier = text[start + 1 :] if start >= 0 else ""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"{TITLE}\n{section.rstrip()}\n\n{earlier}".rstrip() + "\n", encoding="utf-8")


def spread(values: list[float], fmt: str = ".2f") -> str:
    """The median of `values`, with their range in brackets when there are several."""
    if len(values) == 1:
        return format(values[0], fmt)
    mid = statistics.median(values)
    return f"{mid:{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def link_name(latency_ms: float) -> str:
    return f"{latency_ms:g} ms RTT relay" if latency_ms else "loopback"


def rounds_heading(title: str, loads: list[str]) -> list[str]:
    """The heading of one link's rounds, with the load average before each and after the last."""
    return [
        f"### {title}",
        "",
        f"Load average (1/5/15 min) before each round and after the last: {'; '.join(loads)}.",
        "",
    ]
