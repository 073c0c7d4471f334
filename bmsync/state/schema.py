"""The snapshot's tables, as SQLAlchemy Core (no ORM: loading 100k rows must stay cheap).

Bump `SCHEMA_VERSION` on any change to these tables that an older bmsync would misread, and add
the migration from the previous version where the store opens a file; an older bmsync refuses a
newer file (`StateTooNewError`) rather than misreading it. A new table that an older bmsync can
ignore (it tolerates extra tables) is created where it is missing instead, without a bump, so
the file stays readable by both: `folders`, `settled`.

- `meta`: one row per key of `META_KEYS`; binds the file to one local folder and one remote.
- `files`: the snapshot proper, one row per path both sides agreed on (`SnapshotEntry`).
  Schema 2 added `ctime_ns` (0 for rows written by schema 1, which makes the next scan re-read
  those files once). WITHOUT ROWID: the text primary key is the only index, so an upsert
  touches one b-tree, not two.
- `folders`: the folder baseline of runs that keep folder markers, one row per folder both
  sides held when they last agreed (`SnapshotStore.load_folders`). WITHOUT ROWID, as `files`.
- `settled`: push and pull conflicts that `keep-both` settled (`Settlement`), one row per path
  and side that received the copy; a `files` row of the path supersedes them.
- `runs`: a short history of runs (ISO-8601 UTC times, summary as a JSON object), for `status`.

The functions below create these tables in a never-made file and recognise them in an existing
one; anything else is reported as `StateCorruptError` with the advice to rebuild.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
    select,
    text,
)

from bmsync.errors import StateCorruptError, StateTooNewError

SCHEMA_VERSION = 2

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
    Column("ctime_ns", BigInteger, nullable=False, server_default="0"),
    sqlite_with_rowid=False,
)

folders = Table(
    "folders",
    metadata,
    Column("path", Text, primary_key=True),
    sqlite_with_rowid=False,
)

settled = Table(
    "settled",
    metadata,
    Column("path", Text, primary_key=True),
    Column("side", Text, primary_key=True),
    Column("version", Text, nullable=False),
    Column("copy", Text, nullable=False),
    Column("copy_version", Text, nullable=False),
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


def create_tables(conn: Connection, local_root: str, remote_url: str) -> None:
    """Create the tables and bind the file, inside the caller's transaction (these functions are
    synchronous SQLAlchemy Core: the store runs them in its greenlet bridge)."""
    metadata.create_all(conn)
    values = {
        "schema_version": str(SCHEMA_VERSION),
        "local_root": local_root,
        "remote_url": remote_url,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    conn.execute(insert(meta), [{"key": key, "value": values[key]} for key in META_KEYS])


def read_binding(conn: Connection, db: Path, tables: set[str]) -> dict[str, str]:
    """The binding of a file that has tables; the version is checked first because a newer
    schema may have changed everything else."""
    if "meta" not in tables:
        raise corrupt_error(db, f"it has tables ({', '.join(sorted(tables))}) but no bmsync meta")
    stored: dict[str, str] = {}
    for key, value in conn.execute(select(meta.c.key, meta.c.value)):
        stored[key] = value
    version = stored.get("schema_version", "")
    if not version.isdigit() or int(version) < 1:
        raise corrupt_error(db, f"schema version {version!r}")
    if int(version) > SCHEMA_VERSION:
        raise StateTooNewError(
            f"the snapshot {db} was written by a newer bmsync (schema {version}; this one reads "
            f"schema {SCHEMA_VERSION}); upgrade bmsync, or use a different --state-dir "
            "(state_dir in Python)"
        )
    missing = [key for key in META_KEYS if key not in stored]
    if missing:
        raise corrupt_error(db, f"meta lacks {', '.join(missing)}")
    return stored


def migrate(conn: Connection, stored: dict[str, str], tables: set[str]) -> None:
    """Bring an older schema up to this one, inside the caller's transaction (all or nothing).

    Only additive changes so far, so an interrupted migration simply runs again next time.
    The `folders` and `settled` tables, which need no bump, are created here where missing.
    """
    for table in (folders, settled):
        if table.name not in tables:
            table.create(conn)
            tables.add(table.name)
    version = int(stored["schema_version"])
    if version < 2:
        conn.execute(text("ALTER TABLE files ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0"))
    if version < SCHEMA_VERSION:
        conn.execute(
            meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
        )
        stored["schema_version"] = str(SCHEMA_VERSION)


def check_tables(conn: Connection, db: Path, tables: set[str]) -> None:
    """Every table and column this version reads is there (extra ones are tolerated)."""
    for table in (files, folders, settled, runs):
        if table.name not in tables:
            raise corrupt_error(db, f"table {table.name} is missing")
        info = conn.execute(text(f"PRAGMA table_info({table.name})"))
        present = {row.name for row in info}
        missing = [c.name for c in table.columns if c.name not in present]
        if missing:
            raise corrupt_error(db, f"table {table.name} lacks {', '.join(missing)}")


def corrupt_error(db: Path, detail: str) -> StateCorruptError:
    return StateCorruptError(
        f"the snapshot {db} is not a readable bmsync snapshot ({detail}). Nothing was changed. "
        "Run again with --resync (resync=True in Python) to set it aside and rebuild it; "
        "nothing is lost: the rebuild is a union of both sides that deletes nothing"
    )
