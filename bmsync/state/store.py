"""`SnapshotStore`: the per-project SQLite snapshot, on SQLAlchemy async + aiosqlite.

Crash safety is SQLite's: every `apply` is one transaction (WAL, synchronous=FULL), so a run
killed at any moment leaves the snapshot as of its last committed batch, never half a batch.
A file that is not a readable bmsync snapshot is reported, never silently replaced; with
`repair=True` (what `--resync` asks for) it is moved aside and a fresh snapshot started, which
is safe because a run on an empty snapshot is a union that deletes nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bmsync.engine.model import SnapshotEntry
from bmsync.errors import StateCorruptError, StateMismatchError, StateTooNewError
from bmsync.state.schema import SCHEMA_VERSION, files, meta, metadata, runs

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    started_at: str
    finished_at: str | None
    status: str
    summary: dict[str, Any]


def _corrupt(db: Path, detail: str) -> StateCorruptError:
    return StateCorruptError(
        f"the snapshot {db} is not a readable bmsync snapshot ({detail}). Nothing was changed. "
        "Run again with --resync to set it aside and rebuild it: the rebuild is a union of both "
        "sides that deletes nothing"
    )


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _is_corruption(err: BaseException) -> bool:
    original = getattr(err, "orig", err)
    if not isinstance(original, sqlite3.DatabaseError) or isinstance(
        original, sqlite3.OperationalError
    ):
        return "malformed" in str(original) or "not a database" in str(original)
    return True


def _engine(db: Path) -> AsyncEngine:
    engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
    event.listen(engine.sync_engine, "connect", _set_pragmas)
    return engine


def _never_created(db: Path) -> bool:
    # An empty file can only be a creation that never finished: it holds nothing to lose.
    return not db.exists() or db.stat().st_size == 0


def _set_aside(db: Path) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        aside = Path(f"{db}{suffix}")
        if aside.exists():
            os.replace(aside, Path(f"{db}.corrupt-{stamp}{suffix}"))


def _start_building(db: Path) -> Path:
    building = db.with_name(f"{db.name}.new-{os.getpid()}")
    for leftover in db.parent.glob(f"{db.name}.new-*"):
        leftover.unlink(missing_ok=True)
    os.close(os.open(building, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    return building


def _finish_building(building: Path, db: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    os.replace(building, db)
    _fsync_dir(db.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SnapshotStore:
    def __init__(self, engine: AsyncEngine, db: Path) -> None:
        self._engine = engine
        self.db = db

    @classmethod
    async def open(
        cls, db: Path, *, local_root: str, remote_url: str, repair: bool = False
    ) -> SnapshotStore:
        try:
            return await cls._open(db, local_root=local_root, remote_url=remote_url)
        except StateCorruptError:
            if not repair:
                raise
        _set_aside(db)
        return await cls._open(db, local_root=local_root, remote_url=remote_url)

    @classmethod
    async def _open(cls, db: Path, *, local_root: str, remote_url: str) -> SnapshotStore:
        if _never_created(db):
            await cls._create(db, local_root, remote_url)
        store = cls(_engine(db), db)
        try:
            await store._check(local_root, remote_url)
        except BaseException:
            await store.close()
            raise
        return store

    @staticmethod
    async def _create(db: Path, local_root: str, remote_url: str) -> None:
        """Build the new snapshot beside its final name and rename it into place, so a run
        killed during creation leaves no half-made snapshot behind."""
        building = _start_building(db)
        engine = _engine(building)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(
                    insert(meta),
                    [
                        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                        {"key": "local_root", "value": local_root},
                        {"key": "remote_url", "value": remote_url},
                        {"key": "created_at", "value": datetime.now(UTC).isoformat()},
                    ],
                )
            async with engine.connect() as conn:
                # Fold the WAL into the file so the rename carries everything.
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            await engine.dispose()
        _finish_building(building, db)

    async def _check(self, local_root: str, remote_url: str) -> None:
        try:
            async with self._engine.connect() as conn:
                verdict = (await conn.execute(text("PRAGMA quick_check"))).scalar()
                if verdict != "ok":
                    raise _corrupt(self.db, f"integrity check: {verdict}")
                rows = dict((await conn.execute(select(meta.c.key, meta.c.value))).all())
                await conn.execute(select(files.c.path).limit(1))
        except DBAPIError as err:
            raise _corrupt(self.db, str(getattr(err, "orig", err))) from err
        version = rows.get("schema_version")
        if version is None or not version.isdigit():
            raise _corrupt(self.db, "no schema version")
        if int(version) > SCHEMA_VERSION:
            raise StateTooNewError(
                f"the snapshot {self.db} was written by a newer bmsync (schema {version}, this "
                f"one knows {SCHEMA_VERSION}); upgrade bmsync, or use a different --state-dir"
            )
        if rows.get("local_root") != local_root or rows.get("remote_url") != remote_url:
            raise StateMismatchError(
                f"the state in {self.db.parent} belongs to {rows.get('local_root')} <-> "
                f"{rows.get('remote_url')}, not {local_root} <-> {remote_url}. Use a different "
                f"--state-dir, or delete {self.db.parent} to start this project's sync afresh "
                "(that touches neither the folder nor the bucket; the next run is a union)"
            )

    async def load(self) -> dict[str, SnapshotEntry]:
        try:
            async with self._engine.connect() as conn:
                result = await conn.execute(select(files))
                return {row[0]: SnapshotEntry(*row) for row in result.all()}
        except DBAPIError as err:
            raise self._translate(err) from err

    async def apply(self, upserts: Iterable[SnapshotEntry], deletes: Iterable[str]) -> None:
        """Upsert and delete rows in one transaction: all of it lands, or none."""
        rows = [
            {"path": e.path, "size": e.size, "mtime_ns": e.mtime_ns, "xxh3": e.xxh3, "etag": e.etag}
            for e in upserts
        ]
        gone = list(deletes)
        try:
            async with self._engine.begin() as conn:
                if rows:
                    stmt = sqlite_insert(files)
                    stmt = stmt.on_conflict_do_update(
                        index_elements=[files.c.path],
                        set_={c: stmt.excluded[c] for c in ("size", "mtime_ns", "xxh3", "etag")},
                    )
                    await conn.execute(stmt, rows)
                for start in range(0, len(gone), _CHUNK):
                    chunk = gone[start : start + _CHUNK]
                    await conn.execute(delete(files).where(files.c.path.in_(chunk)))
        except DBAPIError as err:
            raise self._translate(err) from err

    async def begin_run(self, run_id: str, started_at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(runs).values(
                    id=run_id, started_at=started_at.isoformat(), status="running", summary="{}"
                )
            )

    async def finish_run(self, run_id: str, status: str, summary: Mapping[str, object]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    finished_at=datetime.now(UTC).isoformat(),
                    status=status,
                    summary=json.dumps(summary),
                )
            )

    async def last_runs(self, n: int = 10) -> list[RunRecord]:
        async with self._engine.connect() as conn:
            result = await conn.execute(select(runs).order_by(runs.c.started_at.desc()).limit(n))
            return [
                RunRecord(r.id, r.started_at, r.finished_at, r.status, json.loads(r.summary))
                for r in result.all()
            ]

    def _translate(self, err: SQLAlchemyError) -> Exception:
        if _is_corruption(err):
            return _corrupt(self.db, str(getattr(err, "orig", err)))
        return err

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> SnapshotStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
