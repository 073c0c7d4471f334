"""Ignore rules in gitignore syntax, shared by both sides.

An ignored path is invisible to the sync: never uploaded, downloaded or deleted, on either side.
Visibility is decided as git decides it (`bmsync.local.gitignore` matches one level), and one
method answers for a scanned file and a listed key alike, so the two sides cannot disagree.
Rules come from the global `.bmignore` (basic-memory's defaults when it does not exist), the
project's own `.gitignore`, and patterns the caller passes.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bmsync.bmhome import basic_memory_dir
from bmsync.errors import ConfigError
from bmsync.local.gitignore import Matcher, literal
from bmsync.names import is_internal

# basic-memory's built-in defaults, used when no global .bmignore exists.
DEFAULT_PATTERNS: tuple[str, ...] = (
    ".*", "*.db", "*.db-shm", "*.db-wal", "config.json", ".git", ".svn", "__pycache__",
    "*.pyc", "*.pyo", "*.pyd", ".pytest_cache", ".coverage", "*.egg-info", ".tox",
    ".mypy_cache", ".ruff_cache", ".venv", "venv", "env", ".env", "node_modules", "build",
    "dist", ".cache", ".idea", ".vscode", ".DS_Store", "Thumbs.db", "desktop.ini", ".obsidian",
    "*.tmp", "*.swp", "*.swo", "*~",
)  # fmt: skip


def global_bmignore_path() -> Path:
    return basic_memory_dir() / ".bmignore"


def _read_patterns(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"ignore file {path} is not UTF-8 text ({err}); fix or remove it"
        ) from err
    except OSError as err:
        raise _unreadable(path, err) from err


def _is_file(path: Path) -> bool:
    """Whether an ignore file is there. One that cannot even be looked at (a folder above it
    not searchable, a link into one) is an error, not "no rules": syncing without the rules
    would upload what they hide. `Path.is_file` raises for some errors and not others,
    depending on the Python version, so this asks `stat` itself."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as err:
        raise _unreadable(path, err) from err


def _unreadable(path: Path, err: OSError) -> ConfigError:
    return ConfigError(
        f"cannot read ignore file {path}: {err.strerror or err}; make it (and the folders "
        "above it) readable by this user, or remove it"
    )


@dataclass(frozen=True)
class IgnoreRules:
    """What the sync sees: one answer for a local path and a remote key alike.

    The scan asks `is_ignored_dir` before walking into a folder and `is_ignored` for each file;
    the gather step asks the same two questions of every listed key and snapshot row. The
    answers include the folders above the path (git's rule: an excluded folder hides all it
    holds, and a `!` pattern cannot bring a file back out of it), so a path the scan never
    reaches is hidden on the remote side too, whatever the patterns say
    (docs/semantics.md, "Ignored paths").
    """

    patterns: tuple[str, ...]
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            matcher = Matcher(self.patterns)
        except re.error as err:  # a pattern the translation cannot express
            raise ConfigError(f"invalid ignore pattern: {err}") from err
        object.__setattr__(self, "_matcher", matcher)
        # Each folder's answer, asked again for every file inside it; bounded by the folders.
        object.__setattr__(self, "_folders", {})

    def is_ignored(self, path: str) -> bool:
        """Whether the sync leaves the file `path` (project-relative POSIX, NFC) alone on both
        sides: bmsync's own, excluded by the patterns, or inside an ignored folder."""
        folder, _, name = path.rpartition("/")
        if is_internal(name):
            return True
        if folder and self.is_ignored_dir(folder):
            return True
        return self._excludes(path, name, folder=False)

    def is_ignored_dir(self, path: str) -> bool:
        """Whether the folder `path` is hidden: excluded itself, or inside a hidden folder."""
        folders: dict[str, bool] = self._folders  # type: ignore[attr-defined]
        hidden = folders.get(path)
        if hidden is None:
            parent, _, name = path.rpartition("/")
            hidden = bool(parent) and self.is_ignored_dir(parent)
            hidden = hidden or self._excludes(path, name, folder=True)
            folders[path] = hidden
        return hidden

    def showing(self, paths: Iterable[str]) -> list[str]:
        """Patterns that, added after these rules, make the files `paths` visible and change
        nothing else. A `!` line alone cannot bring a file out of an excluded folder, so each
        excluded folder above one is re-included and everything else in it excluded again
        (all of which it hid before). For a caller's "keep these files" (basic-memory's prune
        keeps what the user did not confirm)."""
        folders: set[str] = set()
        files = sorted(set(paths))
        for path in files:
            parts = path.split("/")[:-1]
            above = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            hidden = next(
                (i for i, folder in enumerate(above) if self.is_ignored_dir(folder)), None
            )
            if hidden is not None:
                folders.update(above[hidden:])
        lines: list[str] = []
        for folder in sorted(folders, key=lambda f: (f.count("/"), f)):
            lines += [f"!/{literal(folder)}/", f"/{literal(folder)}/*"]
        return lines + [f"!/{literal(path)}" for path in files]

    def _excludes(self, path: str, name: str, *, folder: bool) -> bool:
        matcher: Matcher = self._matcher  # type: ignore[attr-defined]
        return matcher.excludes(path, name, folder=folder)

    @classmethod
    def load(
        cls,
        project_root: Path,
        *,
        extra_patterns: Iterable[str] = (),
        ignore_files: Sequence[Path] = (),
        global_file: Path | None = None,
    ) -> IgnoreRules:
        global_path = global_file if global_file is not None else global_bmignore_path()
        patterns: list[str] = []
        sources: list[str] = []
        if _is_file(global_path):
            patterns += _read_patterns(global_path)
            sources.append(str(global_path))
        else:
            patterns += DEFAULT_PATTERNS
            sources.append("basic-memory defaults")
        gitignore = project_root / ".gitignore"
        if _is_file(gitignore):
            patterns += _read_patterns(gitignore)
            sources.append(str(gitignore))
        for path in ignore_files:
            if not _is_file(path):
                raise ConfigError(
                    f"ignore file {path} does not exist; check the path given with "
                    "--ignore-file (ignore_files in Python)"
                )
            patterns += _read_patterns(path)
            sources.append(str(path))
        extra = list(extra_patterns)
        if extra:
            patterns += extra
            sources.append("caller patterns")
        return cls(tuple(patterns), tuple(sources))
