"""bmsync inside other programs: the top layer, beside the CLI.

    basic_memory/  basic-memory's `rclone_commands` API on bmsync, and `bm` itself with its
                   rclone operations replaced (`python -m bmsync.integrations.basic_memory`)

An integration speaks its host's language (its names, its arguments, its errors) and calls
bmsync's commands underneath; nothing below imports it.
"""
