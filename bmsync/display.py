"""How results show themselves in a REPL and a notebook: a one-line `repr`, a small HTML table.

A report can list thousands of paths; printing one at a prompt (or as a cell's value) must show
what happened at a glance, not every path. So every result's `__repr__` is its status and counts
(built with `short_repr`) and its `_repr_html_` a table of a few rows (`html_table`); the full
lists stay in the fields and in `to_dict()`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

Row = tuple[str, object]


def counted(counts: Sequence[tuple[int, str]], *, empty: str = "nothing") -> str:
    """`3 uploaded, 1 downloaded`: the non-zero counts, or `empty` when all are zero."""
    shown = [f"{number} {what}" for number, what in counts if number]
    return ", ".join(shown) if shown else empty


def short_repr(kind: str, status: str, details: str) -> str:
    """`<SyncReport ok: 3 uploaded in 0.42 s>`: angle brackets, since it is no constructor call."""
    return f"<{kind} {status}: {details}>" if details else f"<{kind} {status}>"


def first_few(paths: Sequence[str], limit: int = 5) -> str:
    """Up to `limit` paths, and how many more there are."""
    more = len(paths) - limit
    return ", ".join(paths[:limit]) + (f" … and {more} more" if more > 0 else "")


def human_bytes(size: int) -> str:
    """`1.2 MB`: decimal units, as rich's transfer columns and most file managers show them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def html_table(caption: str, rows: Sequence[Row]) -> str:
    """A two-column table (label, value), every text escaped."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
        f"<td style='text-align:left'>{html.escape(str(value))}</td></tr>"
        for label, value in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption>{body}</table>"
