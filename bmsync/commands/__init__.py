"""The commands: each a thin use of `bmsync.project` and the pipeline, one module each.

run_pair.py       `run_pair`: one run on one (folder, remote) pair, which every syncing command
                  uses; `sync_project`, the two-way sync
transfer.py       `push_project`, `pull_project`, `mirror_project`, `prune_project`: one-way runs
all.py            `sync_all`: every project at once
which_projects.py which projects a multi-project command works on
watch_all.py      `watch_all`: every project of a root folder kept in sync, continuously
check.py          `check_project`: do both sides hold the same files? (read-only)
status.py         `project_status`: snapshot, recent runs, lock (reads only the state folder)
recover.py        `list_trash`, `restore_file`: what syncs deleted or overwrote, and getting it back
reset.py          `reset_project`: forget a pair's snapshot, so the next sync is a union
ls.py             `list_remote`: the files below a remote prefix, with size, time and ETag
watch.py          `watch_project`: sync at each local change and every poll, until stopped
schedule.py       when a watched project syncs next (debounce, poll, backoff): pure
blocking.py       running any of them from code that is not async
"""
