"""The PNG chart of RESULTS.md: median sync time against project size, both tools, per link.

matplotlib is a benchmark-only dependency (`pip install -e '.[bench]'`); without it the run
still writes its tables and says the chart was skipped.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from results import SizeResult
from scenarios import SCENARIOS

TOOLS = (("bmsync", "-"), ("rclone bisync", "--"))


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
