"""Progress plumbing for tests that count finished actions.

A run's `progress` callback hears phase events and large-file byte events too
(`bmsync.progress`); tests written against the per-action `ProgressEvent` wrap their callback
in `actions_only` so each call still means one finished action.
"""

from __future__ import annotations

from collections.abc import Callable

from bmsync.progress import Progress, ProgressEvent


def actions_only(
    callback: Callable[[ProgressEvent], None] | None,
) -> Callable[[Progress], None] | None:
    if callback is None:
        return None

    def forward(event: Progress) -> None:
        if isinstance(event, ProgressEvent):
            callback(event)

    return forward
