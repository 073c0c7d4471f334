"""The snapshot's tables, as SQLAlchemy Core (no ORM: loading 100k rows must stay cheap).

Bump `SCHEMA_VERSION` on any change to these tables and add the migration from the previous
version where the store opens a file; an older bmsync refuses a newer file (`StateTooNewError`)
rather than misreading it.

- `meta`: one row per key of `META_KEYS`; binds the file to one local folder and one remote.
- `files`: the snapshot proper, one row per path both sides agreed on (`SnapshotEntry`).
  WITHOUT ROWID: the text primary key is the only index, so an upsert touches one b-tree, not two.
- `runs`: a short history of runs (ISO-8601 UTC times, summary as a JSON object), for `status`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text

SCHEMA_VERSION = 1

META_KEYS = ("schema_version", "local_root", "remote_url", "created_at")

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

files = Table(
    "files",
    metadata,
    Column("path", Text, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("xxh3", Text, nullable=False),
    Column("etag", Text, nullable=False),
    sqlite_with_rowid=False,
)

runs = Table(
    "runs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("status", Text, nullable=False),
    Column("summary", Text, nullable=False),
)
