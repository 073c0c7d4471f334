"""The five scenarios, run side by side for both tools on identical data, each result checked.

A pass builds both tools' worlds from the same seed, then for each scenario applies the same
edits to both and runs each tool's sync. After every run, the local folder and the remote
prefix are compared with the expected content (path and MD5, the ETag `rclone serve s3` lists),
so a timing is only reported for a run that produced the right result on both sides.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from counting_proxy import CountingProxy
from kb import Edits, choose_edits, edited, generate, md5_hex
from s3server import list_etags
from tools import RunResult, Tool

NO_CHANGE_RUNS = 3
MAX_DIFFS_SHOWN = 5


@dataclass
class World:
    """What the scenarios share: the notes, the chosen edits, the expected end state."""

    notes: dict[str, bytes]
    edits: Edits
    expected: dict[str, str]
    """{path: MD5} both sides of every tool must hold after the current scenario."""
    client: Any
    """botocore client talking to the server directly (never through the counting relay)."""


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    runs: int
    prepare: Callable[[World, Tool], None]
    """Changes one tool's world before its runs (called once per tool)."""
    expect: Callable[[World], dict[str, str]]
    """The expected state after the scenario (called once, before the tools run)."""
    first: bool = False
    """A first sync: the tool has no state (rclone bisync needs `--resync`)."""


@dataclass
class Outcome:
    """One scenario for one tool: its runs and the first problem, if any."""

    runs: list[RunResult] = field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and bool(self.runs)


def _nothing(world: World, tool: Tool) -> None:
    """First and no-change syncs change nothing beforehand."""


def _same(world: World) -> dict[str, str]:
    return dict(world.expected)


def _edit_both_sides(world: World, tool: Tool) -> None:
    """1 % local edits, 1 % remote edits (a plain S3 PUT, as another client would), 5 deletes."""
    for path in world.edits.local_edits:
        (tool.local / path).write_bytes(edited(world.notes[path], "locally"))
    for path in world.edits.remote_edits:
        world.client.put_object(
            Bucket=tool.bucket,
            Key=f"{tool.prefix}/{path}",
            Body=edited(world.notes[path], "remotely"),
        )
    for path in world.edits.local_deletes:
        (tool.local / path).unlink()


def _expect_edits(world: World) -> dict[str, str]:
    expected = dict(world.expected)
    for path in world.edits.local_edits:
        expected[path] = md5_hex(edited(world.notes[path], "locally"))
    for path in world.edits.remote_edits:
        expected[path] = md5_hex(edited(world.notes[path], "remotely"))
    for path in world.edits.local_deletes:
        del expected[path]
    return expected


def _touch(world: World, tool: Tool) -> None:
    """`touch`: the modification time becomes now, the bytes stay the same."""
    for path in world.edits.touches:
        os.utime(tool.local / path)


def _new_machine(world: World, tool: Tool) -> None:
    """A second machine: an empty local folder and no sync state; the remote holds every note
    (written by the same tool in the scenarios before, as another machine of the user would)."""
    shutil.rmtree(tool.local)
    tool.local.mkdir()
    tool.forget_state()


SCENARIOS = (
    Scenario("a", "first sync (N local files, empty remote)", 1, _nothing, _same, first=True),
    Scenario("b", "no-change sync", NO_CHANGE_RUNS, _nothing, _same),
    Scenario(
        "c", "1% edited locally + 1% remotely, 5 local deletes", 1, _edit_both_sides, _expect_edits
    ),
    Scenario("d", "touch 100 local files (same content)", 1, _touch, _same),
    Scenario(
        "e",
        "first sync, download all (empty local folder, N remote files)",
        1,
        _new_machine,
        _same,
        first=True,
    ),
)


def new_world(count: int, seed: int, client: Any, locals_: list[Path]) -> World:
    """Write the same notes into every tool's local folder."""
    notes: dict[str, bytes] = {}
    for local in locals_:
        notes = generate(local, count, seed)
    return World(
        notes=notes,
        edits=choose_edits(list(notes), seed),
        expected={path: md5_hex(content) for path, content in notes.items()},
        client=client,
    )


def run_scenarios(
    world: World,
    tools: list[Tool],
    proxy: CountingProxy | None,
    no_change_runs: int = NO_CHANGE_RUNS,
) -> dict[tuple[str, str], Outcome]:
    """Every scenario for every tool, alternating which tool goes first to spread drift."""
    outcomes: dict[tuple[str, str], Outcome] = {}
    failed: set[str] = set()
    for index, scenario in enumerate(SCENARIOS):
        world.expected = scenario.expect(world)
        order = tools if index % 2 == 0 else tools[::-1]
        for tool in order:
            if tool.name in failed:
                outcomes[scenario.key, tool.name] = Outcome(
                    problem="skipped: an earlier run failed"
                )
                continue
            runs = no_change_runs if scenario.key == "b" else scenario.runs
            outcome = run_one(world, scenario, tool, proxy, runs)
            outcomes[scenario.key, tool.name] = outcome
            if not outcome.ok:
                failed.add(tool.name)
            print(f"  {scenario.key} {tool.name:<14} {describe(outcome)}", flush=True)
    return outcomes


def run_one(
    world: World, scenario: Scenario, tool: Tool, proxy: CountingProxy | None, runs: int
) -> Outcome:
    scenario.prepare(world, tool)
    outcome = Outcome()
    for i in range(runs):
        if proxy is not None:  # drop anything counted before this run
            proxy.take()
            proxy.take_connections()
        result = tool.run(first=scenario.first, label=f"{scenario.key}{i + 1}")
        if proxy is not None:
            result.requests = by_operation(proxy.take())
            result.connections = proxy.take_connections()
        outcome.runs.append(result)
        if result.problem is not None:
            outcome.problem = result.problem
            return outcome
        outcome.problem = check_sides(world, tool)
        if outcome.problem is not None:
            return outcome
    return outcome


def by_operation(counts: Counter[tuple[str, str]]) -> Counter[str]:
    ops: Counter[str] = Counter()
    for (_bucket, op), n in counts.items():
        ops[op] += n
    return ops


def describe(outcome: Outcome) -> str:
    walls = ", ".join(f"{r.wall_s:.2f}s" for r in outcome.runs)
    if outcome.problem:
        return f"FAILED after [{walls}]: {outcome.problem.splitlines()[0]}"
    last = outcome.runs[-1]
    requests = (
        f" requests {dict(last.requests)} over {last.connections} connections"
        if last.requests
        else ""
    )
    summary = f" ({last.summary})" if last.summary else ""
    return f"[{walls}]{summary}{requests}"


def check_sides(world: World, tool: Tool) -> str | None:
    """None if the local folder and the remote prefix both hold exactly the expected notes."""
    local = local_md5s(tool.local)
    remote = list_etags(world.client, tool.bucket, tool.prefix)
    for side, found in (("local", local), ("remote", remote)):
        problem = compare(world.expected, found)
        if problem is not None:
            return f"{side} side wrong after the run: {problem}"
    return None


def local_md5s(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            found[path.relative_to(root).as_posix()] = digest
    return found


def compare(expected: dict[str, str], found: dict[str, str]) -> str | None:
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(p for p in set(expected) & set(found) if expected[p] != found[p])
    if not (missing or extra or wrong):
        return None
    return (
        f"{len(found)} files, expected {len(expected)}; "
        f"missing {missing[:MAX_DIFFS_SHOWN]} ({len(missing)}), "
        f"extra {extra[:MAX_DIFFS_SHOWN]} ({len(extra)}), "
        f"wrong content {wrong[:MAX_DIFFS_SHOWN]} ({len(wrong)})"
    )
