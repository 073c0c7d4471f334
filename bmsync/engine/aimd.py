"""How many small actions may be in flight while the store throttles (pure): additive
increase, multiplicative decrease.

The executor runs small actions up to `cap` at once (`lanes.small_transfers`). A store that
answers "slow down" (HTTP 503 SlowDown, 429, a throttling error code) is asking for fewer
requests; botocore retries each such request after a backoff, but bmsync would keep `cap` of
them in flight. So each finished small action is an event here: whether the store throttled
any request since the previous event (`RemoteStore.throttled` grew) or not.

- A throttle halves the limit, never below `floor`. The actions already in flight were started
  at the old, wider limit: the next `limit` events (at the old limit) report on that width, not
  on the new one, and move nothing (`holdoff`), so a burst of throttles answering one round of
  requests halves once, not once per request.
- A round without a throttle, as many events as the limit, widens it by one, up to `cap`: the
  store took that width, so try one more. From anywhere, with no throttle, the limit is back at
  the cap within `recovery_bound(floor, cap)` events.

A store that never throttles never moves the limit off `cap`: the executor then behaves exactly
as with a fixed limit. The floor is the executor's `transfers` (see `lanes.py`): what the
user asked for stays; the width bmsync adds on its own for small files is what it gives back.

No I/O and no clock: every decision is a function of the events, so it is tested exhaustively
(`tests/test_aimd.py`) and the asyncio side (`gate.py`) only enforces the number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Width:
    """The limit on small actions in flight, and what the next events need to move it."""

    floor: int
    cap: int
    limit: int
    credit: int = 0
    """Events without a throttle since the limit last changed; at `limit` of them it grows."""
    holdoff: int = 0
    """Events still to come from the round before the last decrease, which move nothing."""

    def __post_init__(self) -> None:
        if not 1 <= self.floor <= self.limit <= self.cap:
            raise ValueError(
                f"need 1 <= floor <= limit <= cap (floor {self.floor}, limit {self.limit}, "
                f"cap {self.cap})"
            )
        if self.credit < 0 or self.holdoff < 0:
            raise ValueError(f"credit and holdoff count events: {self.credit}, {self.holdoff}")


def opened(floor: int, cap: int) -> Width:
    """A run's start: the full width, as without any limiter."""
    return Width(floor, cap, cap)


def after(width: Width, *, throttled: bool) -> Width:
    """The width after one finished action; `throttled`: the store throttled since the last."""
    if width.holdoff:
        return replace(width, holdoff=width.holdoff - 1)
    if throttled:
        narrower = max(width.floor, width.limit // 2)
        return replace(width, limit=narrower, credit=0, holdoff=width.limit)
    if width.limit == width.cap:
        return width
    if width.credit + 1 < width.limit:
        return replace(width, credit=width.credit + 1)
    return replace(width, limit=width.limit + 1, credit=0)


def recovery_bound(floor: int, cap: int) -> int:
    """The most events without a throttle it takes any width to be back at `cap`: a holdoff
    (at most `cap`), then a round of `limit` events per step from `floor` up."""
    return cap + sum(range(floor, cap))
