"""Which projects a multi-project command (`sync-all`, `sync-all --watch`) works on.

Three sources, one answer (a list of `ProjectPair`s and the S3 settings to reach them):
- a root folder and a bucket prefix: every top-level folder of either (SPEC-9's Dropbox model);
- basic-memory's `config.json` (`--config`): each project with its own `local_sync_path`, at the
  key prefix of its name, below a REMOTE URL or in the cloud's bucket;
- the Basic Memory Cloud API (`--cloud`): the tenant's bucket and minted credentials, the cloud's
  project list (a local folder with no cloud project is registered first), paired with the
  root's top-level folders or with the configured projects.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from bmsync.cloud.configured import (
    ConfiguredProject,
    load_configured_projects,
    with_cloud_prefixes,
)
from bmsync.errors import ConfigError
from bmsync.names import segment_problem
from bmsync.project import PathArg, project_root, remote_for
from bmsync.remotes import RemoteLocation, S3Config, parse_remote_url
from bmsync.report import FileError


@dataclass(frozen=True, slots=True)
class ProjectPair:
    """One project of a multi-project sync: its name, folder and remote URL."""

    name: str
    local: Path
    remote_url: str
    s3: S3Config | None = None
    """This pair's S3 settings; None: the ones the command was given."""


@dataclass(slots=True)
class Projects:
    pairs: list[ProjectPair] = field(default_factory=list)
    warnings: list[FileError] = field(default_factory=list)
    """Folders that cannot be projects (hidden, a name S3 cannot hold), with why."""


@dataclass(frozen=True, slots=True)
class CloudSource:
    """Use the Basic Memory Cloud API: `url` (None: basic-memory's configured host), and an
    S3 endpoint or region that replaces Tigris's (a proxy, a test server)."""

    url: str | None = None
    endpoint_url: str | None = None
    region: str | None = None


async def find_projects(
    root: PathArg | None,
    remote_url: str | None,
    *,
    s3: S3Config | None = None,
    config_file: PathArg | None = None,
    use_config: bool = False,
    cloud: CloudSource | None = None,
    register: bool = True,
) -> Projects:
    """The projects to sync; see the module docstring. `use_config`: read basic-memory's
    config (from `config_file`, else its usual place). `register`: with `cloud`, create the
    cloud projects local folders lack (a dry run passes False)."""
    configured = (
        await asyncio.to_thread(load_configured_projects, config_file)
        if use_config or config_file is not None
        else None
    )
    if cloud is not None:
        return await _from_cloud(root, configured, cloud, register)
    if remote_url is None:
        raise ConfigError("give the remote (s3://BUCKET[/PREFIX]) or use the Cloud API (cloud)")
    base = parse_remote_url(remote_url)
    if configured is not None:
        return Projects([_configured_pair(p, base, s3) for p in configured])
    if root is None:
        raise ConfigError("give the folder that holds your projects, or basic-memory's config")
    return await _from_root(root, base, s3)


async def _from_root(root: PathArg, base: RemoteLocation, s3: S3Config | None) -> Projects:
    folder = await asyncio.to_thread(project_root, root)
    names, warnings = await asyncio.to_thread(local_project_folders, folder)
    async with remote_for(None, base, s3) as opened:
        names |= set(await opened.list_folders())
    pairs = [ProjectPair(n, folder / n, child_url(base, n), s3) for n in sorted(names)]
    return Projects(pairs, warnings)


async def _from_cloud(
    root: PathArg | None,
    configured: list[ConfiguredProject] | None,
    source: CloudSource,
    register: bool,
) -> Projects:
    from bmsync.cloud.client import CloudClient
    from bmsync.cloud.mount import open_cloud_mount
    from bmsync.cloud.projects import (
        ensure_cloud_projects,
        list_cloud_projects,
        pair_folders,
        register_cloud_project,
    )

    async with CloudClient(source.url) as client:
        mount = await open_cloud_mount(
            client, endpoint_url=source.endpoint_url, region=source.region
        )
        base = parse_remote_url(mount.url())
        if configured is not None:
            listed = await list_cloud_projects(client)
            projects = with_cloud_prefixes(configured, listed)
            known = {p.prefix for p in listed}
            pairs = []
            for project in projects:
                if project.prefix not in known and register:
                    found = await register_cloud_project(client, project.name)
                    project = ConfiguredProject(project.name, project.local_path, found.prefix)
                pairs.append(_configured_pair(project, base, mount.s3))
            return Projects(pairs)
        if root is None:
            raise ConfigError("give the folder that holds your projects, or basic-memory's config")
        folder = await asyncio.to_thread(project_root, root)
        names, warnings = await asyncio.to_thread(local_project_folders, folder)
        if register:
            pairing = await ensure_cloud_projects(client, names)
        else:
            pairing = pair_folders(names, await list_cloud_projects(client))
    pairs = [
        ProjectPair(name, folder / name, mount.url(project.prefix), mount.s3)
        for name, project in pairing.matched.items()
    ]
    pairs += [
        ProjectPair(p.prefix, folder / p.prefix, mount.url(p.prefix), mount.s3)
        for p in pairing.remote_only
    ]
    return Projects(sorted(pairs, key=lambda p: p.name), warnings)


def _configured_pair(
    project: ConfiguredProject, base: RemoteLocation, s3: S3Config | None
) -> ProjectPair:
    return ProjectPair(project.name, project.local_path, child_url(base, project.prefix), s3)


def child_url(base: RemoteLocation, name: str) -> str:
    """`s3://bucket/prefix/name`: the remote of the project `name` below `base`."""
    return f"s3://{base.bucket}/{base.prefix + '/' if base.prefix else ''}{name}"


def local_project_folders(root: Path) -> tuple[set[str], list[FileError]]:
    """The top-level folders of `root` that can be projects (none when it does not exist)."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is not a folder; pass the folder that holds your projects")
    names: set[str] = set()
    warnings: list[FileError] = []
    if not root.is_dir():
        return names, warnings
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
            continue
        problem = segment_problem(entry.name)
        if problem is not None:
            warnings.append(FileError(entry.name, f"not synced as a project: {problem}"))
            continue
        names.add(entry.name)
    return names, warnings
