"""Configured projects: the cloud sync guide's model, one local folder per project.

basic-memory records a synced project's folder in its `config.json`:

    {"projects": {"research": {"path": "...", "local_sync_path": "/home/me/research"}}}

(`bm cloud sync-setup research ~/research` writes it), and releases before the unified entries
kept it apart:

    {"projects": {"research": "/home/me/bm/research"},
     "cloud_projects": {"research": {"local_path": "/home/me/research"}}}

Each project with such a folder becomes a `ConfiguredProject` (name, local folder, key prefix);
one without is local-only and is left out. The prefix is the name's permalink, the path the
cloud gives a project it creates; `with_cloud_prefixes` replaces it with the path the cloud
actually lists. A caller with no config file gives a `{name: folder}` mapping instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bmsync.cloud.bmconfig import config_path, read_config
from bmsync.cloud.permalink import permalink
from bmsync.cloud.projects import CloudProject, find_cloud_project
from bmsync.errors import ConfigError

# basic-memory reads either key into `ProjectEntry.local_sync_path` (a pydantic alias).
_SYNC_PATH_KEYS = ("local_sync_path", "cloud_sync_path")


@dataclass(frozen=True)
class ConfiguredProject:
    name: str
    local_path: Path
    """Absolute, `~` expanded."""
    prefix: str
    """The key prefix in the bucket, without slashes at either end."""


def load_configured_projects(
    path: str | os.PathLike[str] | None = None,
) -> list[ConfiguredProject]:
    """The projects of basic-memory's `config.json` (its usual place when `path` is None)."""
    file = Path(path).expanduser() if path is not None else config_path()
    projects = configured_projects(read_config(file, required=True), source=str(file))
    if not projects:
        raise ConfigError(
            f"No project in {file} has a local sync folder (`local_sync_path`). Set one up with "
            "`bm cloud sync-setup NAME ~/path`, then try again."
        )
    return projects


def configured_projects(
    config: Mapping[str, Any], *, source: str = "the configuration"
) -> list[ConfiguredProject]:
    """The projects of an already parsed `config.json`, in either shape, sorted by name."""
    folders: dict[str, Any] = {}
    for name, entry in _object(config, "cloud_projects", source).items():
        if isinstance(entry, Mapping) and entry.get("local_path"):
            folders[name] = entry["local_path"]
        elif not isinstance(entry, Mapping):
            raise _bad(source, f"cloud_projects.{name}", "is not an object")
    # The unified entry is what basic-memory reads today: it wins over the older one.
    for name, entry in _object(config, "projects", source).items():
        if isinstance(entry, Mapping):
            found = next((entry[key] for key in _SYNC_PATH_KEYS if entry.get(key)), None)
            if found is not None:
                folders[name] = found
        elif not isinstance(entry, str):  # a str is the old local-only shape: no sync folder
            raise _bad(source, f"projects.{name}", "is neither an object nor a path")
    return _projects(folders, source)


def projects_from_mapping(folders: Mapping[str, str | os.PathLike[str]]) -> list[ConfiguredProject]:
    """`{project name: local folder}`, as a caller without a config file gives it."""
    return _projects(dict(folders), "the project mapping")


def with_cloud_prefixes(
    projects: Iterable[ConfiguredProject], cloud_projects: Iterable[CloudProject]
) -> list[ConfiguredProject]:
    """Each project with the prefix of the cloud project of its name (basic-memory's match:
    same name, else same permalink); one the cloud lacks keeps its permalink, the path
    `register_cloud_project` will create it at."""
    listed = list(cloud_projects)
    result = []
    for project in projects:
        found = find_cloud_project(listed, project.name)
        result.append(replace(project, prefix=found.prefix) if found else project)
    _refuse_shared_prefixes(result, "the cloud's project list")
    return result


def _projects(folders: Mapping[str, Any], source: str) -> list[ConfiguredProject]:
    projects = [_project(name, folder, source) for name, folder in sorted(folders.items())]
    _refuse_shared_prefixes(projects, source)
    return projects


def _project(name: str, folder: Any, source: str) -> ConfiguredProject:
    if not isinstance(folder, str | os.PathLike):
        raise _bad(source, f"the folder of project {name!r}", "is not a path")
    local = Path(folder).expanduser()
    if not local.is_absolute():
        # basic-memory refuses a relative sync path too: relative to what, when a service runs?
        raise ConfigError(
            f"The folder of project {name!r} in {source} is {str(folder)!r}, not an absolute "
            f"path. Set it again with `bm cloud sync-setup {name} ~/path`."
        )
    prefix = permalink(name)
    if not prefix:
        raise ConfigError(
            f"Project {name!r} in {source} has no usable cloud path: its name has no letter or "
            "digit. Rename the project."
        )
    return ConfiguredProject(name=name, local_path=local, prefix=prefix)


def _refuse_shared_prefixes(projects: list[ConfiguredProject], source: str) -> None:
    seen: dict[str, str] = {}
    for project in projects:
        other = seen.setdefault(project.prefix, project.name)
        if other != project.name:
            raise ConfigError(
                f"Projects {other!r} and {project.name!r} in {source} would both sync with the "
                f"prefix {project.prefix!r}. Rename one of them."
            )


def _object(config: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = config.get(key) or {}
    if not isinstance(value, Mapping):
        raise _bad(source, key, "is not an object")
    return value


def _bad(source: str, what: str, why: str) -> ConfigError:
    return ConfigError(
        f"{what} in {source} {why}; is this basic-memory's config.json? Fix the entry, then "
        "try again."
    )
