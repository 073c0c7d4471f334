"""`examples/getting-started.ipynb` runs, top to bottom, in a real Jupyter kernel (nbclient).

It is what a new user tries first in a notebook: the blocking calls inside the kernel's running
event loop, against the throwaway local S3 server. The test extra installs the Jupyter packages,
so a kernel that cannot start is a failure that says why, never a skip: a skip would let CI pass
having run no notebook at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipykernel  # noqa: F401  (the kernel the notebook runs in; the test extra has it)
import nbclient
import nbclient.exceptions
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "getting-started.ipynb"
CELL_TIMEOUT_S = 120


def kernel_env(tmp_path: Path) -> dict[str, str]:
    """This checkout first on the kernel's path, and no global `.bmignore` of the developer's."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["BASIC_MEMORY_CONFIG_DIR"] = str(tmp_path / "bm-config")
    return env


def execute(notebook: Any, tmp_path: Path) -> Any:
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    return client.execute(env=kernel_env(tmp_path))


@pytest.fixture
def kernel_starts(tmp_path: Path) -> None:
    """A one-cell notebook first, so a kernel that cannot start fails saying so, apart from a
    notebook cell that fails."""
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import bmsync")])
    try:
        execute(probe, tmp_path)
    except Exception as err:  # no kernelspec, a kernel that dies at start, no ZMQ, ...
        if isinstance(err, nbclient.exceptions.CellExecutionError):
            raise  # the kernel started: bmsync itself failed to import
        pytest.fail(
            f"no Jupyter kernel could start: {type(err).__name__}: {err}. The test extra "
            "installs ipykernel and its `python3` kernel; reinstall it (pip install -e "
            "'.[test]') and run again."
        )


def outputs(cell: Any) -> str:
    """Everything a cell showed: printed text, plain reprs, HTML."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


@pytest.mark.usefixtures("kernel_starts")
def test_the_getting_started_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    done = execute(notebook, tmp_path)  # raises CellExecutionError on the first failing cell
    shown = [outputs(cell) for cell in done.cells if cell.cell_type == "code"]
    everything = "\n".join(shown)
    assert "<table><caption>SyncReport: ok</caption>" in everything, "a report as a table"
    assert "<SyncReport ok: 3 uploaded in " in everything, "and as one line"
    assert "planning     3" in everything and "download daily/2026-11-30.md" in everything
    assert "ideas.conflict-" in everything and "conflicts at" in everything
    assert "<TrashedVersion daily/2026-11-30.md: remote trash" in everything
    assert "RestoreResult: daily/2026-11-30.md" in everything
    assert "CheckReport: in sync" in everything and "ProjectStatus" in everything
    assert "Traceback" not in everything
