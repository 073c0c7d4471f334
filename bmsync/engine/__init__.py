"""The sync pipeline: one file per step, in the order a run takes them.

gather.py        scan the folder ∥ list the prefix ∥ load the snapshot; drop what a run
                 must leave alone (ignored, unreadable, case twins)
diff.py          how each side of a path compares with the snapshot        (pure)
compare.py       same bytes or not, for the few paths modified on both sides
plan.py          the decision table, per mode: trees → actions              (pure)
adopt.py         finish conflicts a killed run began                        (pure)
moves.py         a renamed file travels as a rename, not a delete and a copy (pure)
folders.py       the folders to create and remove, from three trees of them (pure)
guards.py        max-delete and empty-side: abort before anything changes   (pure)
execute.py       carry out the actions, with bounded concurrency
lanes.py         how many actions at once: large, and small ones the store's throttling narrows
execute_folders.py  carry out the folder plan (`dir_markers`)
outcomes.py      what ran, action by action; a dry run's "would do" for the same plan
aimd.py          how many small actions at once while the store throttles   (pure)
gate.py          a semaphore whose limit moves while it is held
commit.py        finished actions into the snapshot, in batches; run history
build_report.py  the one place a `SyncReport` is built: plan + outcomes + the run's facts
meter.py         what the executor tells a `progress` callback: each action's word and bytes
housekeeping.py  temp files of killed runs, trash retention, stale multipart uploads
run.py           the steps strung together
actions.py       the action types a plan is made of
"""
