"""The local side: scanning the folder, ignore rules, hashing, atomic writes, the trash, and
`FileSource`, the scanned file an upload reads (`bmsync.ports.LocalSource`).

    scan.py       the folder into `LocalFile`s, hashing only what may have changed
    files.py      `file_of_stat`: the one place a stat becomes a `LocalFile`
    hashing.py    xxh3-128 and MD5 of a file, opened so a swapped-in link is never followed
    casefs.py     letter case: `Note.md` and `note.md` as one file on macOS and Windows
    ignore.py     ignore rules in gitignore syntax, shared by both sides
    gitignore.py  one gitignore pattern, compiled
    changes.py    which paths a file watcher reported differ from the last sync
    source.py     `FileSource`: a scanned file as an upload reads it
    ops.py        changes to the folder, each safe against crashes and the user's own edits
    temps.py      bmsync's temporary files, removed only when the run that wrote them is over
    trash.py      the local trash: every file a sync deletes or overwrites is kept here first
"""
