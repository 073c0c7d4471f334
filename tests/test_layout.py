"""The lists of modules a newcomer reads are the files on disk.

Each package's `__init__` docstring lists its modules, one a line (`plan.py   the decision
table...`), and docs/architecture.md lists the top level and the commands in its table of layers
and names files throughout. A module added, moved or renamed without its list is a list that
lies; these tests compare every list with the folder it describes, so the two cannot drift.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "bmsync"
ARCHITECTURE = REPO / "docs" / "architecture.md"

# A listed module: a name at the start of a line of a docstring, then spaces or the line's end.
LISTED = re.compile(r"^[ \t]*([a-z_][a-z0-9_]*(?:\.py|/))(?=[ \t]|$)", re.MULTILINE)
# A file or a package named in the architecture doc (`local/scan.py`, `engine/`, `gather.py`).
NAMED = re.compile(r"(?<![\w./-])((?:[a-z_][a-z0-9_]*/)*[a-z_][a-z0-9_]*\.py)\b")
TABLE_ENTRY = re.compile(r"`([a-z_][a-z0-9_/]*(?:\.py|/))`")


def modules_of(folder: Path) -> set[str]:
    """`name.py` for each module and `name/` for each subpackage; `__init__.py` and
    `__main__.py` (`python -m`) need not be listed."""
    names = {f.name for f in folder.glob("*.py") if not f.name.startswith("__")}
    names |= {d.name + "/" for d in folder.iterdir() if (d / "__init__.py").is_file()}
    return names


def packages() -> list[Path]:
    return sorted(init.parent for init in PACKAGE.rglob("__init__.py") if init.parent != PACKAGE)


@pytest.mark.parametrize("package", packages(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_each_package_docstring_lists_exactly_its_modules(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text("utf-8"))) or ""
    listed = [name for name in LISTED.findall(docstring) if not name.startswith("__")]
    assert len(listed) == len(set(listed)), f"listed twice in {package}/__init__.py: {listed}"
    on_disk = modules_of(package)
    assert set(listed) == on_disk, (
        f"{package.relative_to(REPO)}/__init__.py lists modules that do not exist:"
        f" {sorted(set(listed) - on_disk)}, and leaves out: {sorted(on_disk - set(listed))}"
        " (one a line, the name first, then what it is for)"
    )


def layer_table() -> list[tuple[str, str]]:
    """(layer, modules) of each row of the table under "## Layers"."""
    section = ARCHITECTURE.read_text("utf-8").split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    cells = [re.split(r"(?<!\\)\|", row)[1:3] for row in rows]
    return [(layer.strip(), modules) for layer, modules in cells]


def clauses(cell: str) -> list[str]:
    """A cell cut at each `;` outside parentheses: the clauses a folder's names run through."""
    parts, depth, start = [], 0, 0
    for at, char in enumerate(cell):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == ";" and depth == 0:
            parts.append(cell[start:at])
            start = at + 1
    return [*parts, cell[start:]]


def table_paths() -> list[str]:
    """Every module of the layer table as a path below bmsync/ (`commands/check.py`, `engine/`).

    A name without a folder is in the folder its clause opened, with a file (the commands row
    starts `commands/run_pair.py`, then `transfer.py`, ...) or with a folder and a colon
    (`cli/`: `parser.py`, ...); else it is at the top.
    """
    paths = []
    for _layer, modules in layer_table():
        for clause in clauses(modules):
            folder = ""
            for entry in TABLE_ENTRY.finditer(clause):
                name = entry.group(1)
                if name.endswith(".py") and "/" in name:
                    folder = name.rsplit("/", 1)[0] + "/"
                    paths.append(name)
                elif name.endswith("/"):
                    if clause[entry.end() :].startswith(":"):
                        folder = name
                    paths.append(name)
                else:
                    paths.append(folder + name)
    return paths


def test_the_layer_table_names_only_modules_that_exist() -> None:
    missing = [p for p in table_paths() if not (PACKAGE / p).exists()]
    assert not missing, f"docs/architecture.md's layer table names what bmsync/ lacks: {missing}"


def test_the_layer_table_lists_every_top_level_module_once() -> None:
    tops = [p if p.count("/") == 0 else p.split("/", 1)[0] + "/" for p in table_paths()]
    # A package is listed by its folder or by its files; a top-level module exactly once.
    modules = [t for t in tops if t.endswith(".py")]
    assert len(modules) == len(set(modules)), f"listed twice: {modules}"
    assert set(tops) == modules_of(PACKAGE), (
        f"docs/architecture.md's layer table lists {sorted(set(tops) - modules_of(PACKAGE))}"
        f" that bmsync/ does not hold, and leaves out {sorted(modules_of(PACKAGE) - set(tops))}"
    )


def test_a_package_the_layer_table_lists_file_by_file_is_listed_whole() -> None:
    by_folder: dict[str, set[str]] = {}
    for path in table_paths():
        folder, _, name = path.rstrip("/").rpartition("/")
        if folder and name.endswith(".py"):
            by_folder.setdefault(folder, set()).add(name)
    for folder, listed in by_folder.items():
        on_disk = {m for m in modules_of(PACKAGE / folder) if m.endswith(".py")}
        assert listed == on_disk, (
            f"docs/architecture.md lists {folder}/ as {sorted(listed)}; it holds {sorted(on_disk)}"
        )


def test_every_file_the_architecture_doc_names_exists() -> None:
    everywhere = {f.name for f in PACKAGE.rglob("*.py")}
    missing = []
    for named in sorted(set(NAMED.findall(ARCHITECTURE.read_text("utf-8")))):
        if "/" in named:
            path = named if named.split("/", 1)[0] in {"bmsync", "tests", "benchmarks"} else None
            found = (REPO / path).exists() if path else (PACKAGE / named).exists()
        else:
            found = named in everywhere
        if not found:
            missing.append(named)
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_the_pure_steps_the_doc_names_are_those_the_contract_checks() -> None:
    text = " ".join(ARCHITECTURE.read_text("utf-8").split())
    sentence = text.split("forbids the pure steps (", 1)[1].split(")", 1)[0]
    named = {name.rsplit("/", 1)[-1].removesuffix(".py") for name in NAMED.findall(sentence)}
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    (contract,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["name"] == "the pure steps do no I/O"
    ]
    checked = {module.rsplit(".", 1)[-1] for module in contract["source_modules"]}
    assert named == checked, f"the doc names {sorted(named)}; the contract checks {sorted(checked)}"
