"""The limit on small actions in flight (bmsync/engine/aimd.py): examples, then properties over
any history of events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmsync.engine.aimd import Width, after, opened, recovery_bound

# -- examples ----------------------------------------------------------------------------------


def run(width: Width, events: str) -> Width:
    """`events`: `t` a throttle, `.` an action without one."""
    for event in events:
        width = after(width, throttled=event == "t")
    return width


def test_it_opens_at_the_cap_and_stays_there_without_throttles() -> None:
    width = opened(8, 32)
    assert width == Width(8, 32, 32)
    assert run(width, "." * 1000) == width


def test_a_throttle_halves_and_the_round_in_flight_then_moves_nothing() -> None:
    width = after(opened(8, 32), throttled=True)
    assert (width.limit, width.holdoff) == (16, 32)
    held = run(width, "t" * 31)
    assert (held.limit, held.holdoff) == (16, 1)
    assert run(held, ".").holdoff == 0
    assert run(held, ".t").limit == 8  # the first throttle after the old round halves again


def test_halving_stops_at_the_floor() -> None:
    width = run(opened(8, 32), "t" + "." * 32 + "t" + "." * 16 + "t")
    assert width.limit == 8
    assert run(opened(1, 4), "t" + "...." + "t" + "..." + "t").limit == 1


def test_a_round_of_limit_actions_without_throttle_widens_by_one() -> None:
    width = run(opened(8, 32), "t" + "." * 32 + "t" + "." * 16)
    assert (width.limit, width.holdoff, width.credit) == (8, 0, 0)
    assert run(width, "." * 7).limit == 8
    assert run(width, "." * 8).limit == 9
    assert run(width, "." * (8 + 9)).limit == 10
    assert run(width, "." * 7 + "t").limit == 8  # a throttle before the round ends: no step


def test_the_recovery_bound_is_the_holdoff_and_one_round_per_step() -> None:
    assert recovery_bound(8, 32) == 32 + sum(range(8, 32))
    assert recovery_bound(4, 4) == 4
    # the slowest way back: at the floor with the longest holdoff there can be
    slowest = Width(8, 32, 8, holdoff=32)
    assert run(slowest, "." * (recovery_bound(8, 32) - 1)).limit == 31
    assert run(slowest, "." * recovery_bound(8, 32)).limit == 32


def test_a_cap_equal_to_the_floor_never_moves() -> None:
    assert run(opened(32, 32), "t.t..t" * 50).limit == 32


@pytest.mark.parametrize(
    "floor, limit, cap, credit, holdoff",
    [(0, 1, 1, 0, 0), (2, 1, 4, 0, 0), (1, 5, 4, 0, 0), (1, 2, 4, -1, 0), (1, 2, 4, 0, -1)],
)
def test_impossible_widths_are_refused(
    floor: int, limit: int, cap: int, credit: int, holdoff: int
) -> None:
    with pytest.raises(ValueError):
        Width(floor, cap, limit, credit, holdoff)


# -- properties --------------------------------------------------------------------------------


@st.composite
def bounds(draw: st.DrawFn) -> tuple[int, int]:
    floor = draw(st.integers(1, 64))
    return floor, draw(st.integers(floor, 256))


@st.composite
def widths(draw: st.DrawFn) -> Width:
    """Any valid width, reachable or not."""
    floor, cap = draw(bounds())
    limit = draw(st.integers(floor, cap))
    return Width(floor, cap, limit, draw(st.integers(0, limit)), draw(st.integers(0, cap)))


histories = st.lists(st.booleans(), max_size=600)


@st.composite
def reached(draw: st.DrawFn) -> Width:
    """A width some history of events reaches from a run's start."""
    floor, cap = draw(bounds())
    width = opened(floor, cap)
    for throttled in draw(histories):
        width = after(width, throttled=throttled)
    return width


@given(bounds(), histories)
def test_the_limit_stays_within_floor_and_cap(limits: tuple[int, int], events: list[bool]) -> None:
    floor, cap = limits
    width = opened(floor, cap)
    for throttled in events:
        width = after(width, throttled=throttled)
        assert floor <= width.limit <= cap
        assert (width.floor, width.cap) == (floor, cap)


@given(st.one_of(widths(), reached()))
def test_a_throttle_never_raises_the_limit(width: Width) -> None:
    assert after(width, throttled=True).limit <= width.limit


@given(st.one_of(widths(), reached()), st.integers(0, 600))
def test_a_run_of_successes_never_lowers_it_and_adds_one_at_a_time(
    width: Width, successes: int
) -> None:
    for _ in range(successes):
        wider = after(width, throttled=False)
        assert width.limit <= wider.limit <= width.limit + 1
        width = wider


@given(st.one_of(widths(), reached()))
def test_after_throttling_stops_it_is_back_at_the_cap_within_the_bound(width: Width) -> None:
    width = run(width, "." * recovery_bound(width.floor, width.cap))
    assert width.limit == width.cap


@given(st.one_of(widths(), reached()))
def test_a_throttle_outside_a_holdoff_halves_to_the_floor_at_most(width: Width) -> None:
    narrower = after(width, throttled=True)
    if width.holdoff:
        assert narrower.limit == width.limit
    else:
        assert narrower.limit == max(width.floor, width.limit // 2)
        assert narrower.holdoff == width.limit


@given(reached(), st.lists(st.booleans(), min_size=1, max_size=300))
def test_a_round_in_flight_halves_the_limit_once(width: Width, events: list[bool]) -> None:
    """Once halved, the next `limit` (old) events cannot lower it again, throttled or not."""
    if width.holdoff or width.limit == width.floor:
        return
    halved = after(width, throttled=True)
    for throttled in events[: width.limit]:
        halved = after(halved, throttled=throttled)
        assert halved.limit == max(width.floor, width.limit // 2)
