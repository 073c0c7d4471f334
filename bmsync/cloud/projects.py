"""The cloud's projects: listing them, mapping each to its key prefix, registering new ones.

The Cloud API proxies basic-memory's own project routes, so `GET /proxy/v2/projects/` answers a
`ProjectList` (`{"projects": [{"id", "external_id", "name", "path", "is_default", ...}],
"default_project"}`). A project's `path` is where its files live on the tenant's machine,
which mounts the bucket at `/app/data`: `/app/data/research` is the key prefix `research`
(basic-memory's `normalize_project_path`).

A local folder with no cloud project gets one before its first sync, the way basic-memory's
`create_cloud_project` does it: `POST /proxy/v2/projects/` with the name and its permalink as
the path. The answer (201) can come before the project is listed, so registration waits until
it is: a sync that started earlier would write files the service does not index.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bmsync.cloud.permalink import permalink
from bmsync.errors import CloudError, CloudUnavailableError, ConfigError

if TYPE_CHECKING:  # configured.py uses these types without a client: httpx stays unloaded
    from bmsync.cloud.client import CloudClient

log = logging.getLogger(__name__)

PROJECTS_PATH = "/proxy/v2/projects/"
MOUNT_ROOT = "app/data/"
_POLL_MAX_S = 2.0


@dataclass(frozen=True)
class CloudProject:
    name: str
    path: str
    """As the API lists it, e.g. `/app/data/research`."""

    @property
    def prefix(self) -> str:
        """The project's key prefix in the bucket: `research` for `/app/data/research`."""
        return cloud_prefix(self.path)


def cloud_prefix(path: str) -> str:
    return (path.strip("/") + "/").removeprefix(MOUNT_ROOT).strip("/")


async def list_cloud_projects(cloud: CloudClient) -> list[CloudProject]:
    """Every project the API lists, except one whose path is the mount root itself: its prefix
    would be the whole bucket, every other project included."""
    body = await cloud.request("GET", PROJECTS_PATH)
    entries = body.get("projects") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise CloudError(
            f"Basic Memory Cloud's answer to GET {PROJECTS_PATH} has no project list; this "
            "bmsync may not match the service's API version. Please report it."
        )
    projects = []
    for entry in entries:
        project = _project(entry)
        if project is None:
            log.warning("skipping a cloud project with no usable name or path: %r", entry)
        elif not project.prefix:
            log.warning("skipping cloud project %r: its path %r is the whole bucket",
                        project.name, project.path)  # fmt: skip
        else:
            projects.append(project)
    return projects


async def register_cloud_project(
    cloud: CloudClient, name: str, *, wait: float = 30.0, poll: float = 0.5
) -> CloudProject:
    """Create the cloud project `name` and return it once the API lists it (`wait` seconds at
    most). A project that already exists under this name (another client was quicker, or a
    retried request had in fact arrived) is returned as it is."""
    path = permalink(name)
    if not path or "/" in path:
        raise ConfigError(
            f"Cannot create a cloud project named {name!r}: its permalink {path!r} is not one "
            "folder name. Rename the folder to letters, digits, '-' or '_'."
        )
    body = {"name": name, "path": path, "set_default": False, "visibility": "workspace"}
    try:
        await cloud.request("POST", PROJECTS_PATH, json=body)
    except CloudError as err:
        # 400/409 is how the service says "already exists"; anything else is a real refusal.
        existing = (
            find_cloud_project(await list_cloud_projects(cloud), name)
            if _maybe_exists(err)
            else None
        )
        if existing is None:
            raise
        return existing
    return await _wait_until_listed(cloud, name, wait, poll)


def find_cloud_project(projects: Iterable[CloudProject], name: str) -> CloudProject | None:
    """By exact name, else by permalink: basic-memory's rule for naming a project
    (`_get_cloud_project`), so "My Research" finds "my-research"."""
    candidates = list(projects)
    for project in candidates:
        if project.name == name:
            return project
    wanted = permalink(name)
    return next((p for p in candidates if permalink(p.name) == wanted), None)


@dataclass(frozen=True)
class FolderPairing:
    matched: Mapping[str, CloudProject]
    """Local folder name -> the cloud project it syncs with."""
    unregistered: tuple[str, ...]
    """Local folders no cloud project matches: `register_cloud_project` creates theirs."""
    remote_only: tuple[CloudProject, ...]
    """Cloud projects no local folder matches: the folder to create is `project.prefix`."""


def pair_folders(folders: Iterable[str], projects: Iterable[CloudProject]) -> FolderPairing:
    """Pair top-level folders with cloud projects (the Dropbox model of SPEC-9).

    A folder pairs first with the project whose prefix is its name; else with the one whose
    prefix or name has the folder's permalink (a folder "My Research" registered by
    basic-memory or by `register_cloud_project` lives at prefix `my-research`). Two folders that
    would share one project, now or once registered, are refused: they would sync into each
    other.
    """
    folder_list = sorted(set(folders))
    free = {project.prefix: project for project in projects}
    matched: dict[str, CloudProject] = {}
    for folder in folder_list:
        if folder in free:
            matched[folder] = free.pop(folder)
    claimed: dict[str, str] = {}  # permalink -> the folder that pairs (or will) under it
    for folder, exact in matched.items():
        claimed[exact.prefix] = claimed[permalink(exact.name)] = folder
    unregistered: list[str] = []
    for folder in (f for f in folder_list if f not in matched):
        key = permalink(folder)
        if key and key in claimed:
            raise _shared(claimed[key], folder, key)
        found = free.get(key) or next((p for p in free.values() if permalink(p.name) == key), None)
        if found is not None:
            matched[folder] = free.pop(found.prefix)
            claimed[found.prefix] = claimed[permalink(found.name)] = folder
        else:
            unregistered.append(folder)
            claimed[key] = folder
    remote_only = tuple(sorted(free.values(), key=lambda p: p.prefix))
    return FolderPairing(matched=matched, unregistered=tuple(unregistered), remote_only=remote_only)


async def ensure_cloud_projects(
    cloud: CloudClient, folders: Iterable[str], *, wait: float = 30.0
) -> FolderPairing:
    """`pair_folders` against the cloud's list, after registering a project for every folder
    that has none; the answer has no `unregistered` folders left."""
    pairing = pair_folders(folders, await list_cloud_projects(cloud))
    registered = {
        folder: await register_cloud_project(cloud, folder, wait=wait)
        for folder in pairing.unregistered
    }
    taken = {project.prefix for project in registered.values()}
    return FolderPairing(
        matched={**pairing.matched, **registered},
        unregistered=(),
        remote_only=tuple(p for p in pairing.remote_only if p.prefix not in taken),
    )


def _shared(first: str, second: str, key: str) -> ConfigError:
    return ConfigError(
        f"The folders {first!r} and {second!r} would both sync with the cloud project at "
        f"prefix {key!r}. Rename or move one of them."
    )


async def _wait_until_listed(
    cloud: CloudClient, name: str, wait: float, poll: float
) -> CloudProject:
    deadline = time.monotonic() + wait
    while True:
        found = find_cloud_project(await list_cloud_projects(cloud), name)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise CloudUnavailableError(
                f"Basic Memory Cloud accepted the new project {name!r} but did not list it "
                f"within {wait:.0f} s. Try again in a minute; it will be found then."
            )
        await asyncio.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))
        poll = min(poll * 2, _POLL_MAX_S)


def _maybe_exists(err: CloudError) -> bool:
    return err.status_code in (400, 409)


def _project(entry: Any) -> CloudProject | None:
    if not isinstance(entry, dict):
        return None
    name, path = entry.get("name"), entry.get("path")
    if not isinstance(name, str) or not name or not isinstance(path, str):
        return None
    return CloudProject(name=name, path=path)
