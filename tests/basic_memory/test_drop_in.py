"""basic-memory's real `bm` commands, run with bmsync in place of rclone, with no rclone anywhere.

Each `bm` is a subprocess: `python -m bmsync.integrations.basic_memory ARGS` in this venv
(basic-memory 0.24.1 from PyPI and this checkout, `scripts/test-basic-memory`), with a PATH in
which no `rclone` can be found, a home folder and a basic-memory config folder of its own (API
key auth, the cloud project `research` synced with a local folder), a local stand-in of the
Cloud API (`tests/cloud_server.py`) and moto_server as the bucket. The assertions read both
sides: the files and their bytes in the folder, and the objects under the project's prefix.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud_server import API_KEY, CloudServer
from tests.servers import S3TestServer, ServerPool

PROJECT = "research"
PREFIX = "research"  # `/app/data/research` in the bucket
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180


def path_without_rclone() -> str:
    """This process's PATH less every folder holding an `rclone`."""
    folders = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and shutil.which("rclone", path=folder) is None
    ]
    path = os.pathsep.join(folders)
    assert shutil.which("rclone", path=path) is None
    return path


class Machine:
    """One computer with basic-memory set up: a home folder (rclone's config file), a config
    folder (API key, the project and its local folder), and the project's folder."""

    def __init__(self, root: Path, cloud: CloudServer, s3: S3TestServer) -> None:
        self.root, self.cloud, self.s3 = root, cloud, s3
        self.home = root / "home"
        self.config_dir = root / "basic-memory"
        self.folder = root / PROJECT
        for folder in (self.home, self.config_dir, self.folder):
            folder.mkdir(parents=True)
        config = {
            "cloud_api_key": API_KEY,
            "cloud_host": cloud.url,
            "auto_update": False,
            "cloud_promo_opt_out": True,
            "skip_initialization_sync": True,
            "default_project": PROJECT,
            "projects": {
                PROJECT: {
                    "path": str(self.folder),
                    "mode": "cloud",
                    "local_sync_path": str(self.folder),
                }
            },
        }
        (self.config_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        self.ignore([".*"])

    @property
    def rclone_conf(self) -> Path:
        return self.home / ".config" / "rclone" / "rclone.conf"

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "BASIC_MEMORY_CONFIG_DIR": str(self.config_dir),
            "PATH": path_without_rclone(),
            "PYTHONPATH": str(REPO),
            "COLUMNS": "200",  # rich wraps at 80 columns otherwise, mid-sentence
            "NO_COLOR": "1",
            "LANG": "C.UTF-8",
            "BASIC_MEMORY_NO_PROMOS": "1",  # no analytics event leaves the machine
        }

    def bm(self, *args: str, expect: int = 0) -> str:
        """Run `bm ARGS` on bmsync; its output, after checking its exit code."""
        return finish(self.start(*args), expect=expect)

    def start(self, *args: str) -> subprocess.Popen[str]:
        argv = [sys.executable, "-m", "bmsync.integrations.basic_memory", *args]
        return subprocess.Popen(
            argv, env=self.env(), cwd=self.root, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def setup_remote(self) -> None:
        """What `bm cloud setup` leaves, its endpoint pointed at the test server: the rclone
        remote, written here directly (one test runs the real `bm cloud setup`)."""
        config = self.s3.config
        self.write_remote(config.access_key_id or "", config.secret_access_key or "")

    def write_remote(self, access_key: str, secret_key: str) -> None:
        parser = configparser.ConfigParser()
        if self.rclone_conf.exists():
            parser.read(self.rclone_conf)
        if not parser.has_section("basic-memory-cloud"):
            parser.add_section("basic-memory-cloud")
        section = parser["basic-memory-cloud"]
        section.update(
            type="s3", provider="Other", access_key_id=access_key, secret_access_key=secret_key,
            encoding="Slash,InvalidUtf8",
        )  # fmt: skip
        # The test bucket is not on Tigris: the one setting a real setup would not have.
        section.update(endpoint=str(self.s3.config.endpoint_url), region="us-east-1")
        self.rclone_conf.parent.mkdir(parents=True, exist_ok=True)
        with self.rclone_conf.open("w") as handle:
            parser.write(handle)

    def ignore(self, patterns: list[str]) -> None:
        (self.config_dir / ".bmignore").write_text("\n".join(patterns) + "\n", encoding="utf-8")

    def write(self, path: str, text: str, *, age_s: float = 0.0) -> None:
        file = self.folder / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        if age_s:
            then = time.time() - age_s
            os.utime(file, (then, then))

    def files(self) -> dict[str, str]:
        return {
            p.relative_to(self.folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(self.folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }


def finish(process: subprocess.Popen[str], *, expect: int = 0) -> str:
    output = process.communicate(timeout=TIMEOUT_S)[0]
    code = process.wait()
    assert code == expect, (
        f"{' '.join(map(str, process.args))} exited {code}, not {expect}:\n{output}"
    )
    return output


class Cloud:
    """The project's side of the bucket, read and written out of band."""

    def __init__(self, s3: S3TestServer, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def put(self, path: str, text: str) -> None:
        self.s3.client.put_object(Bucket=self.bucket, Key=f"{PREFIX}/{path}", Body=text.encode())

    def files(self) -> dict[str, str]:
        client, found = self.s3.client, {}
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{PREFIX}/"
        )
        for page in pages:
            for obj in page.get("Contents", []):
                body = client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                found[obj["Key"].removeprefix(f"{PREFIX}/")] = body.decode()
        return found


@pytest.fixture(scope="module")
def moto(s3_server_pool: ServerPool) -> S3TestServer:
    return s3_server_pool.get("moto")


@pytest.fixture
def cloud_api(moto: S3TestServer) -> Iterator[CloudServer]:
    bucket = moto.create_bucket()
    config = moto.config
    assert config.access_key_id and config.secret_access_key
    with CloudServer(
        bucket=bucket, access_key=config.access_key_id, secret_key=config.secret_access_key
    ) as server:
        server.add_project(PROJECT)
        yield server


@pytest.fixture
def cloud(cloud_api: CloudServer, moto: S3TestServer) -> Cloud:
    return Cloud(moto, cloud_api.bucket)


@pytest.fixture
def machine(tmp_path: Path, cloud_api: CloudServer, moto: S3TestServer) -> Machine:
    return Machine(tmp_path / "laptop", cloud_api, moto)


def conflict_copies(files: dict[str, Any], stem: str) -> list[str]:
    return sorted(name for name in files if name.startswith(f"{stem}.conflict-"))


# -- bisync, check, bisync-reset ---------------------------------------------------------------


def test_setup_then_bisync_edits_deletes_and_a_conflict(machine: Machine, cloud: Cloud) -> None:
    out = machine.bm("cloud", "setup")
    assert "nothing to install" in out and "Cloud setup completed successfully" in out
    machine.write_remote(*_keys(machine))  # setup wrote Tigris's endpoint; point it here

    machine.write("a.md", "alpha\n")
    machine.write("notes/b.md", "beta\n")
    cloud.put("c.md", "gamma\n")
    # The first run needs no --resync: a union that deletes nothing.
    out = machine.bm("cloud", "bisync", "--name", PROJECT)
    assert "research bisync completed successfully" in out
    expected = {"a.md": "alpha\n", "c.md": "gamma\n", "notes/b.md": "beta\n"}
    assert machine.files() == expected and cloud.files() == expected

    machine.write("a.md", "alpha, edited here\n")
    cloud.put("c.md", "gamma, edited in the cloud\n")
    (machine.folder / "notes" / "b.md").unlink()
    machine.bm("cloud", "bisync", "--name", PROJECT)
    expected = {"a.md": "alpha, edited here\n", "c.md": "gamma, edited in the cloud\n"}
    assert machine.files() == expected and cloud.files() == expected

    # Both sides change a.md: the newer (the cloud's) keeps the path, the other is kept beside
    # it, on both sides.
    machine.write("a.md", "alpha, local conflict\n", age_s=600)
    cloud.put("a.md", "alpha, cloud conflict\n")
    out = machine.bm("cloud", "bisync", "--name", PROJECT)
    assert "conflict a.md" in out
    local, remote = machine.files(), cloud.files()
    assert local == remote and local["a.md"] == "alpha, cloud conflict\n"
    [copy] = conflict_copies(local, "a")
    assert local[copy] == "alpha, local conflict\n"


def test_check_on_equal_and_different_sides_then_reset(machine: Machine, cloud: Cloud) -> None:
    machine.setup_remote()
    machine.write("a.md", "same\n")
    machine.bm("cloud", "bisync", "--name", PROJECT)
    assert "research files match" in machine.bm("cloud", "check", "--name", PROJECT)

    cloud.put("only-in-the-cloud.md", "x\n")
    machine.write("a.md", "changed here\n")
    out = machine.bm("cloud", "check", "--name", PROJECT)
    assert "research has differences" in out
    assert "only-in-the-cloud.md" in out and "a.md" in out

    out = machine.bm("cloud", "bisync-reset", PROJECT)
    assert "Forgot the last sync of project 'research'" in out
    state = machine.config_dir / "bisync-state" / PROJECT
    assert list(state.glob("*/snapshot.db.reset-*")) and not list(state.glob("*/snapshot.db"))
    # After a reset the next bisync is a union: it fetches, uploads, and deletes nothing.
    machine.bm("cloud", "bisync", "--name", PROJECT)
    assert machine.files()["only-in-the-cloud.md"] == "x\n"


# -- push and pull with each conflict choice ----------------------------------------------------


def test_push_and_pull_with_each_conflict_choice(machine: Machine, cloud: Cloud) -> None:
    machine.setup_remote()
    machine.write("x.md", "local 1\n")
    machine.write("mine.md", "only here\n")
    cloud.put("x.md", "cloud 1\n")
    cloud.put("theirs.md", "only there\n")

    out = machine.bm("cloud", "push", "--name", PROJECT, expect=1)
    assert "Push aborted: 1 file(s) differ" in out and "x.md" in out
    assert cloud.files() == {"x.md": "cloud 1\n", "theirs.md": "only there\n"}

    machine.bm("cloud", "push", "--name", PROJECT, "--on-conflict", "keep-cloud")
    assert cloud.files() == {"x.md": "cloud 1\n", "theirs.md": "only there\n", "mine.md": (
        "only here\n"
    )}  # fmt: skip

    machine.bm("cloud", "push", "--name", PROJECT, "--on-conflict", "keep-both")
    remote = cloud.files()
    [copy] = conflict_copies(remote, "x")
    assert remote["x.md"] == "cloud 1\n" and remote[copy] == "local 1\n"

    out = machine.bm("cloud", "push", "--name", PROJECT, "--on-conflict", "keep-local")
    assert "push completed successfully" in out and "only on cloud" in out
    assert cloud.files()["x.md"] == "local 1\n"
    assert "theirs.md" not in machine.files()  # a push never writes locally

    machine.write("x.md", "local 2\n")
    cloud.put("x.md", "cloud 2\n")
    out = machine.bm("cloud", "pull", "--name", PROJECT, expect=1)
    assert "Pull aborted: 1 file(s) differ" in out
    assert machine.files()["x.md"] == "local 2\n" and "theirs.md" not in machine.files()

    machine.bm("cloud", "pull", "--name", PROJECT, "--on-conflict", "keep-local")
    local = machine.files()
    assert local["x.md"] == "local 2\n" and local["theirs.md"] == "only there\n"

    machine.bm("cloud", "pull", "--name", PROJECT, "--on-conflict", "keep-both")
    local = machine.files()
    copies = conflict_copies(local, "x")
    assert local["x.md"] == "local 2\n" and "cloud 2\n" in [local[c] for c in copies]

    machine.bm("cloud", "pull", "--name", PROJECT, "--on-conflict", "keep-cloud")
    assert machine.files()["x.md"] == "cloud 2\n"
    assert cloud.files()["x.md"] == "cloud 2\n"  # a pull never writes to the cloud


# -- the mirror, prune after a .bmignore change, ls ---------------------------------------------


def test_mirror_then_prune_after_a_bmignore_change_then_ls(machine: Machine, cloud: Cloud) -> None:
    machine.setup_remote()
    machine.write("a.md", "a\n")
    machine.write("notes/b.md", "bb\n")
    machine.write("drafts/d.md", "draft\n")
    cloud.put("stale.md", "only in the cloud\n")

    out = machine.bm("cloud", "sync", "--name", PROJECT)
    assert "research synced successfully" in out
    assert cloud.files() == machine.files()  # stale.md deleted, the rest uploaded

    machine.ignore([".*", "drafts/"])  # drafts/d.md is in the cloud already
    out = machine.bm("cloud", "prune", "--name", PROJECT, "--dry-run")
    assert "1 cloud file(s) match .bmignore" in out and "drafts/d.md" in out
    assert "drafts/d.md" in cloud.files()

    out = machine.bm("cloud", "prune", "--name", PROJECT, "--yes")
    assert "Pruned ignored files from research" in out
    assert cloud.files() == {"a.md": "a\n", "notes/b.md": "bb\n"}
    assert machine.files()["drafts/d.md"] == "draft\n"  # prune touches only the cloud

    out = machine.bm("project", "ls", "--name", PROJECT, "--cloud")
    assert "Files in research (CLOUD)" in out and "Total: 2 files" in out
    assert "        2 a.md" in out and "        3 notes/b.md" in out
    out = machine.bm("project", "ls", "--name", PROJECT, "--cloud", "notes")
    assert "        3 b.md" in out and "Total: 1 files" in out


# -- two clients -------------------------------------------------------------------------------


def test_two_clients_bisyncing_one_project_converge(
    tmp_path: Path, cloud_api: CloudServer, moto: S3TestServer, cloud: Cloud
) -> None:
    laptop = Machine(tmp_path / "laptop", cloud_api, moto)
    desktop = Machine(tmp_path / "desktop", cloud_api, moto)
    for machine in (laptop, desktop):
        machine.setup_remote()
    laptop.write("from-laptop.md", "L\n")
    laptop.write("shared.md", "first\n", age_s=3600)
    desktop.write("from-desktop.md", "D\n")
    desktop.write("shared.md", "first\n", age_s=3600)

    # Both at once: neither waits for the other, and nothing is lost.
    running = [m.start("cloud", "bisync", "--name", PROJECT) for m in (laptop, desktop)]
    for process in running:
        finish(process)
    for machine in (laptop, desktop, laptop):
        machine.bm("cloud", "bisync", "--name", PROJECT)
    expected = {"from-desktop.md": "D\n", "from-laptop.md": "L\n", "shared.md": "first\n"}
    assert laptop.files() == desktop.files() == cloud.files() == expected

    # Then each edits: the same note differently, a new note each, and one deletes.
    laptop.write("shared.md", "the laptop's edit\n", age_s=60)
    desktop.write("shared.md", "the desktop's edit\n")
    laptop.write("laptop-2.md", "L2\n")
    desktop.write("desktop-2.md", "D2\n")
    (desktop.folder / "from-laptop.md").unlink()
    for machine in (laptop, desktop, laptop):
        machine.bm("cloud", "bisync", "--name", PROJECT)

    local = laptop.files()
    assert local == desktop.files() == cloud.files()
    assert local["shared.md"] == "the desktop's edit\n"  # the newer edit keeps the path
    [copy] = conflict_copies(local, "shared")
    assert local[copy] == "the laptop's edit\n"  # the other is kept beside it
    assert local["laptop-2.md"] == "L2\n" and local["desktop-2.md"] == "D2\n"
    assert "from-laptop.md" not in local


# -- the patching itself -----------------------------------------------------------------------


def test_every_rclone_operation_is_replaced_where_basic_memory_holds_it() -> None:
    import importlib

    from bmsync.integrations import basic_memory as drop_in
    from bmsync.integrations.basic_memory import cli

    assert cli.check_supported() == "0.24.1"
    importlib.import_module("basic_memory.cli.main")
    cli.install()
    rclone_commands = importlib.import_module("basic_memory.cli.commands.cloud.rclone_commands")
    project_sync = importlib.import_module("basic_memory.cli.commands.cloud.project_sync")
    project = importlib.import_module("basic_memory.cli.commands.project")
    installer = importlib.import_module("basic_memory.cli.commands.cloud.rclone_installer")
    core = importlib.import_module("basic_memory.cli.commands.cloud.core_commands")
    for name in drop_in.DROP_IN_NAMES:
        assert getattr(rclone_commands, name) is getattr(drop_in, name)
    for name in (
        "project_bisync",
        "project_sync",
        "project_check",
        "project_diff",
        "project_transfer",
        "project_prune",
        "project_prune_preview",
        "RcloneError",
    ):
        assert getattr(project_sync, name) is getattr(drop_in, name), name
    assert project.project_ls is drop_in.project_ls
    assert installer.is_rclone_installed() is True
    assert core.install_rclone is installer.install_rclone


def _keys(machine: Machine) -> tuple[str, str]:
    """The keys `bm cloud setup` minted through the Cloud API, from the file it wrote."""
    parser = configparser.ConfigParser()
    parser.read(machine.rclone_conf)
    section = parser["basic-memory-cloud"]
    assert section["endpoint"] == "https://fly.storage.tigris.dev"
    return section["access_key_id"], section["secret_access_key"]
