"""The per-project state: where it lives, the SQLite snapshot, and the lock.

    paths = ProjectPaths.for_remote(default_state_dir(), "s3://bucket/notes")
    paths.ensure()
    with ProjectLock(paths.lock):
        async with await SnapshotStore.open(paths.db, local_root=root, remote_url=url) as store:
            snapshot = await store.load()
            ...
            await store.apply(upserts, deletes)

The snapshot is what both sides last agreed on; it only changes in whole transactions, so a
killed sync leaves it as of its last commit. The lock is an `flock`, released by the kernel when
its holder dies, so no lock file is ever left to clean up by hand.
"""

from bmsync.state.lock import ProjectLock
from bmsync.state.paths import ProjectPaths, default_state_dir, project_key
from bmsync.state.schema import SCHEMA_VERSION
from bmsync.state.store import RUNNING, RunRecord, SnapshotStore

__all__ = [
    "RUNNING",
    "SCHEMA_VERSION",
    "ProjectLock",
    "ProjectPaths",
    "RunRecord",
    "SnapshotStore",
    "default_state_dir",
    "project_key",
]
