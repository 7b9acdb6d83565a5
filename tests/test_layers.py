"""The packages form layers, each importing only those below it:

    data (reference files, the database edge, data.values)  <-  intents (question ->
    spec)  <-  sql (spec -> SQL, engines)  <-  bot (answers, surfaces, benchmarks)

so there is no package cycle (data.db once imported intents.model for Coverage). The
oracle is the source itself: every import statement, at module level or inside a
function, read with `ast`. tests/ is never imported by the packages (a wheel does not
ship it)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYER = {"data": 0, "intents": 1, "sql": 2, "bot": 3}
# Imports that cross upwards on purpose, each with its reason.
ALLOWED_UPWARD = {
    # `toprank data build|export|import-rollups` is the command-line edge of the
    # warehouse build, which lives with the engines in sql/ (issue 12).
    ("data.warehouse_cli", "sql"),
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in LAYER:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


NAMESPACE = "toprank"  # the packages install as toprank.bot, toprank.data, ...


def _imports(path: Path) -> list[str]:
    """The full names of everything the module imports, anywhere in it."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == NAMESPACE:  # from toprank import bot
                names.extend(f"{NAMESPACE}.{alias.name}" for alias in node.names)
            else:
                names.append(node.module)
    return names


def _imported_packages(path: Path) -> set[str]:
    """The packages the module imports: toprank's by their name under the namespace
    (toprank.sql.engine -> "sql"), anything else by its top-level name."""
    packages = set()
    for name in _imports(path):
        parts = name.split(".")
        packages.add(parts[1] if parts[0] == NAMESPACE and len(parts) > 1 else parts[0])
    return packages


MODULES = _modules()


def test_every_package_is_walked() -> None:
    walked = {name.split(".")[0] for name, _ in MODULES}
    assert walked == set(LAYER)
    assert any(name == "data.db" for name, _ in MODULES)


@pytest.mark.parametrize("name,path", MODULES, ids=[name for name, _ in MODULES])
def test_a_module_imports_only_its_own_layer_and_those_below(name: str, path: Path) -> None:
    layer = LAYER[name.split(".")[0]]
    imported = _imported_packages(path)
    assert "tests" not in imported, f"{name} imports tests/, which a wheel does not ship"
    upward = {
        package
        for package in imported & set(LAYER)
        if LAYER[package] > layer and (name, package) not in ALLOWED_UPWARD
    }
    assert not upward, f"{name} imports {sorted(upward)}, a layer above its own"


def test_the_walk_sees_an_upward_import(tmp_path: Path) -> None:
    # The check can fail: the import data/db.py used to have is seen, even in a function.
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from toprank.intents.model import Coverage\n", encoding="utf-8"
    )
    assert "intents" in _imported_packages(source)


def test_the_shared_values_import_nothing_of_toprank() -> None:
    assert not _imported_packages(REPO / "data" / "values.py") & set(LAYER)


TEST_MODULES = [
    (".".join(p.relative_to(REPO).with_suffix("").parts), p)
    for p in sorted((REPO / "tests").rglob("*.py"))
]


@pytest.mark.parametrize(
    "name,path", MODULES + TEST_MODULES, ids=[name for name, _ in MODULES + TEST_MODULES]
)
def test_every_import_of_toprank_goes_through_the_namespace(name: str, path: Path) -> None:
    # In a checkout the folders are importable by their own names too (the repository
    # root is on sys.path under pytest): "import bot.x" beside "import toprank.bot.x"
    # would load the same file twice, as two modules with two copies of every class.
    bare = {n for n in _imports(path) if n.split(".")[0] in LAYER}
    assert not bare, f"{name} imports {sorted(bare)} without the {NAMESPACE}. prefix"
    # ...nor in code written as a string for a subprocess ("python -c ...", "-m bot.cli")
    in_strings = (
        set()
        if name == "tests.test_layers"
        else {
            m.group(0)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            for m in _BARE_IN_STRING.finditer(node.value)
        }
    )
    assert not in_strings, f"{name} has {sorted(in_strings)} in a string"


_PACKAGES = "|".join(LAYER)
_BARE_IN_STRING = re.compile(
    rf"\bfrom (?:{_PACKAGES})(?:\.\w+)* import |\bimport (?:{_PACKAGES})\.\w|-m (?:{_PACKAGES})\.\w"
)


def test_the_string_check_sees_a_bare_import() -> None:
    assert _BARE_IN_STRING.search("import sys; from data.ingest import ingest_claims; x()")
    assert _BARE_IN_STRING.search("python -m bot.cli ask")
    assert not _BARE_IN_STRING.search("from toprank.data.ingest import ingest_claims")
    assert not _BARE_IN_STRING.search("the data from data files")


def _loader_names(path: Path) -> set[str]:
    """Names imported from toprank's packages that read files (load_*, read_*)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(NAMESPACE + "."):
            names.update(
                a.name for a in node.names if a.name.startswith(("load_", "read_", "open_"))
            )
    return names


@pytest.mark.parametrize(
    "name,path",
    [(n, p) for n, p in MODULES if n.startswith("intents")],
    ids=[n for n, _ in MODULES if n.startswith("intents")],
)
def test_the_parser_loads_nothing_itself(name: str, path: Path) -> None:
    # The catalog, vocabulary and the lexicon built from them are passed in (the
    # pipeline loads them once); the parser is pure.
    assert not _loader_names(path), name
    assert "open(" not in path.read_text(encoding="utf-8"), name
