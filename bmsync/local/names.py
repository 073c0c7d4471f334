"""Local path names: one canonical (NFC, POSIX) form for every file name.

macOS hands out NFD names; Linux and S3 keep whatever bytes they are given. Comparing NFC forms
keeps an `é` typed on a Mac from becoming a second file next to the same name typed elsewhere.
"""

from __future__ import annotations

import unicodedata

TEMP_PREFIX = ".bmsync-tmp-"
"""Downloads land in `<folder>/.bmsync-tmp-*` first; such names are never synced."""


def canonical(relpath: str) -> str:
    return unicodedata.normalize("NFC", relpath)


def is_internal(name: str) -> bool:
    """bmsync's own temporary files, which must never be synced whatever the ignore rules say."""
    return name.startswith(TEMP_PREFIX)
