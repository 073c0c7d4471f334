"""basic-memory's cloud sync on bmsync: its `rclone_commands` API, and `bm` itself.

As a library, the same public names, parameters, defaults and return types as basic-memory
0.24's `basic_memory.cli.commands.cloud.rclone_commands`, so basic-memory switches by changing
one import::

    from bmsync.integrations.basic_memory import SyncProject, project_bisync, RcloneError

    ok = project_bisync(SyncProject("research", "/app/data/research", "~/research"), bucket)

No rclone is needed or called. S3 settings come from `register_s3_config(S3Config(...))`, else
from the rclone remote `bm cloud setup` wrote (`credentials.py`); state lives in basic-memory's
`bisync-state/<project>/`; `.bmignore` is read as gitignore (`commands.py` says where the
semantics differ from rclone's, and why).

As a program, `python -m bmsync.integrations.basic_memory ARGS...` is `bm ARGS...` of the
installed basic-memory with these functions in place of its rclone calls (`cli.py`).

    values.py       SyncProject, TransferPlan, RcloneError, ... (basic-memory's value types)
    credentials.py  the S3 settings: registered, else rclone's config file
    pairs.py        a SyncProject as a (folder, s3:// URL, S3 settings, state folder) pair
    commands.py     project_sync, project_bisync, push/pull/diff, prune, check, ls
    single_file.py  project_copy_file
    state.py        reset_bisync_state (`bm cloud bisync-reset`)
    output.py       what is printed where rclone printed
    cli.py          the drop-in `bm`: version check, patching, running
"""

from bmsync.integrations.basic_memory.commands import (
    project_bisync,
    project_check,
    project_copy,
    project_copy_file,
    project_diff,
    project_ls,
    project_prune,
    project_prune_preview,
    project_sync,
    project_transfer,
)
from bmsync.integrations.basic_memory.credentials import register_s3_config
from bmsync.integrations.basic_memory.pairs import (
    bisync_initialized,
    get_project_bisync_state,
    get_project_remote,
)
from bmsync.integrations.basic_memory.state import reset_bisync_state
from bmsync.integrations.basic_memory.values import (
    ConflictStrategy,
    RcloneError,
    SyncProject,
    TransferDirection,
    TransferPlan,
    conflict_copy_name,
    strategy_overwrites_dest,
)

__all__ = [
    "ConflictStrategy",
    "RcloneError",
    "SyncProject",
    "TransferDirection",
    "TransferPlan",
    "bisync_initialized",
    "conflict_copy_name",
    "get_project_bisync_state",
    "get_project_remote",
    "project_bisync",
    "project_check",
    "project_copy",
    "project_copy_file",
    "project_diff",
    "project_ls",
    "project_prune",
    "project_prune_preview",
    "project_sync",
    "project_transfer",
    "register_s3_config",
    "reset_bisync_state",
    "strategy_overwrites_dest",
]

DROP_IN_NAMES = (
    "RcloneError",
    "SyncProject",
    "TransferPlan",
    "bisync_initialized",
    "get_project_bisync_state",
    "get_project_remote",
    "project_bisync",
    "project_check",
    "project_copy",
    "project_copy_file",
    "project_diff",
    "project_ls",
    "project_prune",
    "project_prune_preview",
    "project_sync",
    "project_transfer",
)
"""The names of basic-memory's `rclone_commands` this package replaces (`cli.py` puts each
wherever basic-memory holds it)."""
