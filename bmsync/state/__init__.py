"""The per-project state: where it lives, the SQLite snapshot, and the lock.

    paths.py   where a project's state folder is (`ProjectPaths`), created user-only
    lock.py    `ProjectLock`: one sync of a project at a time, released by the kernel on death
    schema.py  the snapshot's tables and their migrations
    store.py   `SqliteSnapshotStore`, the `bmsync.ports.SnapshotStore` on SQLite
    aside.py   setting a snapshot aside: moved, never deleted, so a person can still look

The snapshot is what both sides last agreed on; it only changes in whole transactions, so a
killed sync leaves it as of its last commit. Nothing is re-exported here, so importing
`bmsync.state.paths` does not load SQLAlchemy.
"""
