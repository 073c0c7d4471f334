"""Start-up cost: how long `import bmsync`, `bmsync --help` and `bmsync --version` take, and which
heavy libraries they load, for one or more commits side by side.

    .venv/bin/python benchmarks/startup.py HEAD~3 HEAD          # print the table
    .venv/bin/python benchmarks/startup.py 1135a33 HEAD --out benchmarks/RESULTS.md

Each commit's `bmsync/` is unpacked (`git archive`) into a temporary folder, compiled to bytecode
once (as `pip install` does), and put first on PYTHONPATH, so the editable install does not decide
which code runs. Each command runs
`--runs` times, alternating between the commits, and the median is reported: a process start
on this machine varies by tens of milliseconds with what else runs.
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "sqlalchemy.orm", "aiobotocore", "botocore", "aiohttp", "xxhash")
COMMANDS = {
    "import bmsync": ["-c", "import bmsync"],
    "bmsync --help": ["-m", "bmsync.cli", "--help"],
    "bmsync --version": ["-m", "bmsync.cli", "--version"],
    "python -c pass (floor)": ["-c", "pass"],
}
_REPORT = (
    f"\nimport sys; print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
)


def unpack(rev: str, dest: Path) -> str:
    """`bmsync/` of `rev` into `dest`; returns the short commit id."""
    tar = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "bmsync"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    # Bytecode once, as `pip install` does: with PYTHONDONTWRITEBYTECODE=1 every run would
    # otherwise compile bmsync's modules from source, a cost an installed bmsync never pays.
    if not compileall.compile_dir(dest / "bmsync", quiet=1):
        raise SystemExit(f"could not compile {rev}'s bmsync/")
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def timed(args: list[str], pythonpath: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], env=env, cwd=pythonpath, capture_output=True, check=True
    )
    return time.perf_counter() - started


def heavy_loaded(args: list[str], pythonpath: Path) -> str:
    """Which of HEAVY the command leaves in sys.modules."""
    if args[0] == "-m":  # run the module as `python -m` would, then look
        body = (
            f"import runpy, sys\nsys.argv = ['bmsync', *{args[2:]!r}]\n"
            f"try:\n    runpy.run_module({args[1]!r}, run_name='__main__')\n"
            "except SystemExit:\n    pass"
        )
    else:
        body = args[1]
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    done = subprocess.run(
        [sys.executable, "-c", body + _REPORT],
        env=env,
        cwd=pythonpath,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="+", help="commits to compare (e.g. 1135a33 HEAD)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, help="append the section to this Markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bmsync-startup-") as tmp:
        sources = {}
        for rev in args.revs:
            dest = Path(tmp) / rev.replace("/", "_")
            dest.mkdir()
            sources[unpack(rev, dest)] = dest
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):
            for label, command in COMMANDS.items():
                for commit, path in sources.items():
                    samples.setdefault((label, commit), []).append(timed(command, path))
        lines = [
            f"## Start-up, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"`benchmarks/startup.py {' '.join(args.revs)}`: median of {args.runs} runs each, "
            f"alternating; {platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} cores. Load average at the end: "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.",
            "",
            "| command | "
            + " | ".join(f"{c} (ms)" for c in sources)
            + " | heavy libraries loaded |",
            "|---|" + "---|" * len(sources) + "---|",
        ]
        for label, command in COMMANDS.items():
            medians = [statistics.median(samples[label, c]) * 1000 for c in sources]
            loaded = " / ".join(heavy_loaded(command, path) or "none" for path in sources.values())
            lines.append(
                f"| `{label}` | " + " | ".join(f"{m:.0f}" for m in medians) + f" | {loaded} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        with args.out.open("a") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
