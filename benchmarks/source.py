"""Which bmsync code the benchmark runs: a frozen copy, taken once at the start of the run.

bmsync is installed in editable mode, so `.venv/bin/bmsync` imports whatever `bmsync/` holds at
that instant. Other people edit that folder while a benchmark runs (a 7-minute run once measured
two different versions of the code and then crashed on a half-written change). So the run copies
the package once, by default from the last commit (`git archive HEAD`), compiles it to bytecode
(as `pip install` does) and makes it read-only, and every bmsync process imports the copy
through PYTHONPATH, which comes before the editable finder.
"""

from __future__ import annotations

import compileall
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BmsyncSource:
    path: Path
    """The folder to put on PYTHONPATH: it holds `bmsync/`."""
    description: str
    launcher: Path
    """The `bmsync` command for this copy (see `write_launcher`)."""


def git(repo: Path, *args: str) -> str:
    """A read-only git command's output."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def snapshot(repo: Path, dest: Path, worktree: bool) -> BmsyncSource:
    """Copy `bmsync/` from HEAD (or, with `worktree`, from the working tree as it is now)."""
    dest.mkdir(parents=True)
    commit = git(repo, "rev-parse", "--short", "HEAD")
    if worktree:
        shutil.copytree(
            repo / "bmsync", dest / "bmsync", ignore=shutil.ignore_patterns("__pycache__")
        )
        dirty = git(repo, "status", "--porcelain", "--", "bmsync").splitlines()
        changes = "; ".join(line.strip() for line in dirty) or "none"
        description = (
            f"working tree copied at the start of the run, on top of commit {commit}; "
            f"uncommitted changes under bmsync/: {changes}"
        )
        pyproject = (repo / "pyproject.toml").read_text()
    else:
        tar = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", "HEAD", "bmsync"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(dest, filter="data")
        description = f"commit {commit} (`git archive HEAD`; uncommitted changes not included)"
        pyproject = git(repo, "show", "HEAD:pyproject.toml")
    compile_and_freeze(dest / "bmsync")
    source = BmsyncSource(dest, description, write_launcher(pyproject, dest / "bin" / "bmsync"))
    check_imported(source)
    return source


def write_launcher(pyproject: str, path: Path) -> Path:
    """The `bmsync` console script pip would generate for this copy's own entry point.

    Not the venv's `bmsync`: that script was generated for whatever `bmsync/` held at the last
    `pip install -e`, and names that version's entry point (it once named a function the
    benchmarked commit did not have yet, and every run failed)."""
    target = tomllib.loads(pyproject)["project"]["scripts"]["bmsync"]
    module, func = target.split(":")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"#!{sys.executable}\nimport sys\nfrom {module} import {func}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
        f"    sys.exit({func}())\n"
    )
    path.chmod(0o555)
    return path


def compile_and_freeze(package: Path) -> None:
    """Compile every module once, then make the sources and the bytecode read-only.

    `pip install` compiles a wheel's modules at install time, so a user's `bmsync` reads
    bytecode. The copy has none, and with PYTHONDONTWRITEBYTECODE=1 (or a read-only folder)
    every bmsync process would compile all of its modules from source again (about 70 ms per
    run on this machine), a cost no installed bmsync pays. Files only: the folders stay
    writable so the temporary folder can be removed.
    """
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"could not compile {package}")
    for dirpath, _dirs, files in os.walk(package):
        for name in files:
            (Path(dirpath) / name).chmod(0o444)


def pythonpath_env(source: BmsyncSource) -> dict[str, str]:
    return {"PYTHONPATH": str(source.path)}


def check_imported(source: BmsyncSource) -> None:
    """Make sure the launcher runs and a bmsync process really imports the copy, not the
    editable install.

    Run from the copy's parent folder: `python -c` puts the current folder first on sys.path,
    and the repository's own `bmsync/` would shadow the copy from there.
    """
    env = {**os.environ, **pythonpath_env(source)}
    subprocess.run(
        [str(source.launcher), "--version"],
        env=env,
        cwd=source.path.parent,
        check=True,
        capture_output=True,
    )
    found = subprocess.run(
        [sys.executable, "-c", "import bmsync.cli; print(bmsync.cli.__file__)"],
        env=env,
        cwd=source.path.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(source.path.resolve()):
        raise SystemExit(f"bmsync imports {found}, not the copy in {source.path}")
