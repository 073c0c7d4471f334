"""The PNG chart of RESULTS.md: median sync time against project size, both tools, per link.

matplotlib is a benchmark-only dependency (`pip install -e '.[bench]'`); without it the run
still writes its tables and says the chart was skipped.

There is one current chart, `chart.png` beside the results file, overwritten by each run: the
tree keeps one picture, not one per run. When a run draws a new one, the earlier sections'
links to it become a note that their chart is in git history, so no section shows another
run's figures.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from results import SizeResult
from scenarios import SCENARIOS

TOOLS = (("bmsync", "-"), ("rclone bisync", "--"))
CHART_NAME = "chart.png"
ALT = "sync time against project size"
IN_HISTORY = (
    "The chart of this run is in git history: `benchmarks/{name}` as of the commit that added"
    " this section."
)


def chart_path(results: Path) -> Path:
    """The one current chart: `chart.png` beside the results file (benchmarks/ by default)."""
    return results.with_name(CHART_NAME)


def chart_link(name: str) -> str:
    """The new section's link to the chart it drew."""
    return f"![{ALT}]({name})"


def retire_chart_links(results: Path, name: str) -> None:
    """Earlier sections of `results` stop linking the chart a new run is about to overwrite."""
    if not results.exists():
        return
    text = results.read_text(encoding="utf-8")
    retired = text.replace(chart_link(name), IN_HISTORY.format(name=name))
    if retired != text:
        results.write_text(retired, encoding="utf-8")


def draw_chart(sizes: list[SizeResult], out: Path) -> bool:
    """One panel per scenario; False (and nothing written) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (the `bench` extra): no chart")
        return False
    latencies = sorted({s.latency_ms for s in sizes})
    fig, axes = plt.subplots(1, len(SCENARIOS), figsize=(4.2 * len(SCENARIOS), 4), dpi=110)
    for ax, scenario in zip(axes, SCENARIOS, strict=True):
        for latency in latencies:
            link = f"{latency:g} ms RTT" if latency else "loopback"
            for tool, style in TOOLS:
                points = []
                for size in sorted(sizes, key=lambda s: s.count):
                    outcome = size.timed.get((scenario.key, tool))
                    if size.latency_ms == latency and outcome is not None and outcome.ok:
                        walls = [r.wall_s for r in outcome.runs]
                        points.append((size.count, statistics.median(walls)))
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, style, marker="o", label=f"{tool}, {link}")
        ax.set_title(f"{scenario.key}. {scenario.title}", fontsize=8)
        ax.set_xlabel("notes")
        ax.set_ylabel("median wall s")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return True
