"""`Gate` (bmsync/engine/gate.py): a semaphore whose limit moves while it is held."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.engine.gate import Gate


async def settle() -> None:
    """Let every task that can run, run (a few rounds of the loop)."""
    for _ in range(5):
        await asyncio.sleep(0)


class Holders:
    """Tasks that each take the gate and hold it until told to go."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.entered: list[int] = []
        self.peak = 0
        self.over: list[tuple[int, int, int]] = []
        """(who, holders, limit) of every entry that took the holders above the limit."""
        self._go: dict[int, asyncio.Event] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, n: int) -> None:
        self._go[n] = asyncio.Event()
        self.tasks[n] = asyncio.create_task(self._hold(n))

    async def _hold(self, n: int) -> None:
        async with self.gate:
            self.entered.append(n)
            self.peak = max(self.peak, self.gate.holders)
            if self.gate.holders > self.gate.limit:
                self.over.append((n, self.gate.holders, self.gate.limit))
            await self._go[n].wait()

    def finish(self, n: int) -> None:
        self._go[n].set()

    @property
    def inside(self) -> set[int]:
        return {n for n in self.entered if not self.tasks[n].done()}


async def test_at_most_limit_hold_it_in_the_order_they_came() -> None:
    holders = Holders(Gate(2))
    for n in range(5):
        holders.start(n)
    await settle()
    assert holders.entered == [0, 1] and holders.gate.waiting == 3
    holders.finish(1)
    await settle()
    assert holders.entered == [0, 1, 2]
    for n in range(5):
        holders.finish(n)
    await settle()
    assert holders.entered == [0, 1, 2, 3, 4] and holders.peak == 2
    assert holders.gate.holders == 0


async def test_lowering_lets_holders_finish_and_admits_no_one_until_below_the_limit() -> None:
    holders = Holders(Gate(4))
    for n in range(6):
        holders.start(n)
    await settle()
    assert holders.inside == {0, 1, 2, 3}
    holders.gate.limit = 2
    await settle()
    assert holders.inside == {0, 1, 2, 3}  # nobody is cancelled
    holders.finish(0)
    holders.finish(1)
    await settle()
    assert holders.inside == {2, 3} and holders.gate.waiting == 2  # 2 hold it: not below 2
    holders.finish(2)
    await settle()
    assert holders.inside == {3, 4} and holders.gate.waiting == 1


async def test_raising_admits_waiters_at_once() -> None:
    holders = Holders(Gate(1))
    for n in range(4):
        holders.start(n)
    await settle()
    assert holders.inside == {0}
    holders.gate.limit = 3
    await settle()
    assert holders.inside == {0, 1, 2}


async def test_a_newcomer_does_not_overtake_a_waiter() -> None:
    holders = Holders(Gate(2))
    for n in range(3):
        holders.start(n)
    await settle()
    holders.gate.limit = 1
    holders.finish(0)
    await settle()
    holders.gate.limit = 2  # one place free: it goes to 2, who waited, not to 3
    holders.start(3)
    await settle()
    assert holders.inside == {1, 2} and holders.gate.waiting == 1


async def test_a_cancelled_waiter_leaves_no_slot_taken() -> None:
    holders = Holders(Gate(1))
    for n in range(3):
        holders.start(n)
    await settle()
    holders.tasks[1].cancel()
    await settle()
    assert holders.gate.waiting == 1
    holders.finish(0)
    await settle()
    assert holders.inside == {2} and holders.gate.holders == 1


async def test_a_waiter_cancelled_after_admission_hands_its_slot_on() -> None:
    holders = Holders(Gate(1))
    for n in range(3):
        holders.start(n)
    await settle()
    holders.finish(0)
    await asyncio.sleep(0)  # 0 leaves and admits 1, which has not run yet
    holders.tasks[1].cancel()
    await settle()
    assert 1 not in holders.entered
    assert holders.inside == {2} and holders.gate.holders == 1


async def test_limits_below_one_and_extra_releases_are_refused() -> None:
    with pytest.raises(ValueError):
        Gate(0)
    gate = Gate(2)
    with pytest.raises(ValueError):
        gate.limit = 0
    with pytest.raises(RuntimeError):
        gate.release()


Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.just(0)),
        st.tuples(st.just("finish"), st.integers(0, 30)),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
        st.tuples(st.just("limit"), st.integers(1, 6)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6), steps)
def test_no_one_enters_above_the_limit_and_no_place_stays_idle(
    first_limit: int, script: list[Step]
) -> None:
    """Whatever the order of arrivals, exits, cancels and limit changes: nobody enters while
    the holders are at the limit of that moment, and once the loop settles, nobody waits while
    there is room, and the holders are exactly the tasks inside."""

    async def scenario() -> None:
        gate = Gate(first_limit)
        holders = Holders(gate)
        started = 0
        for action, n in script:
            if action == "start":
                holders.start(started)
                started += 1
            elif action == "finish" and n < started:
                holders.finish(n)
            elif action == "cancel" and n < started:
                holders.tasks[n].cancel()
            elif action == "limit":
                gate.limit = n
            await settle()
            assert not holders.over, holders.over
            if gate.waiting:
                assert gate.holders >= gate.limit
            assert gate.holders == len(holders.inside)
        for n in range(started):
            holders.finish(n)
        # Each exit admits the next waiter, one loop round apiece: wait for all, not a few.
        await asyncio.gather(*holders.tasks.values(), return_exceptions=True)
        assert gate.holders == 0 and gate.waiting == 0

    asyncio.run(scenario())
