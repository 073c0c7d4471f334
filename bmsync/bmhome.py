"""Where basic-memory keeps its own files: `config.json`, `.bmignore`, its OAuth tokens.

One rule, the one basic-memory 0.24 applies (`config_models.resolve_data_dir`), so bmsync reads
the same files basic-memory writes: `$BASIC_MEMORY_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/basic-memory`, else `~/.basic-memory`.

It sits at the bottom rather than in one package because three read those files: `local/`
(`.bmignore`), `cloud/` (`config.json`, the login token) and `integrations/basic_memory`, and
the two adapters may not import each other.
"""

from __future__ import annotations

import os
from pathlib import Path


def basic_memory_dir() -> Path:
    configured = os.environ.get("BASIC_MEMORY_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg).expanduser() / "basic-memory"
    return Path.home() / ".basic-memory"
