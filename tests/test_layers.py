"""The layers point downward only (ARCHITECTURE.md, docs/architecture.md): widgets never import
the store or the services, services never import apps, widgets, serving or reports, the store
imports no service, and content and the identifier finder import none of the layers. Read from
the code with `ast`, so a new import that breaks a layer fails here."""

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cop_widgets"

EVERYTHING = {"store", "services", "apps", "widgets", "serving", "cli", "reports", "room"}
FORBIDDEN = {
    # pure: content files and their models, the identifier finder
    "content": EVERYTHING | {"deidentify"},
    "deidentify": EVERYTHING | {"content"},
    "widgets": {"store", "services", "apps", "serving", "cli", "reports", "room"},
    "services": {"apps", "widgets", "serving", "cli", "reports", "room"},
    "store": {"services", "apps", "widgets", "serving", "reports", "cli", "room"},
    "reports": {"apps", "widgets", "serving", "cli", "room"},
    "apps": {"cli", "room"},
    "serving": {"apps", "widgets", "cli", "reports", "room"},
}
# Known and named exceptions, each to be moved (none today).
KNOWN: set[tuple[str, str]] = set()


@pytest.fixture(autouse=True, scope="module")
def _parsed_once_for_this_module():
    """The parsed package is kept while these tests run, not for the rest of the session."""
    yield
    _trees.cache_clear()
    _imports.cache_clear()


@cache
def _trees() -> tuple[tuple[Path, ast.Module], ...]:
    """Every module of the package, parsed (once for all the tests here: the code is read as
    it is when the tests start)."""
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"))) for path in PACKAGE.rglob("*.py")
    )


@cache
def _imports() -> frozenset[tuple[str, str]]:
    found = set()
    for path, tree in _trees():
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_init else parts)
        here = parts[:-1]  # the package a relative import starts from
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                # `from x.y import z`: z may be a module or a name in one; x.y.z names both
                for alias in node.names:
                    name = f"{target}.{alias.name}"
                    if name.startswith("cop_widgets."):
                        found.add((module, name))
            elif isinstance(node, ast.Import):
                found |= {(module, a.name) for a in node.names if a.name.startswith("cop_widgets.")}
    return frozenset(found)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_imports_point_downward_only():
    edges = _imports()
    assert len(edges) > 100  # the reader sees the code's imports
    broken = {(a, b) for a, b in edges if _layer(b) in FORBIDDEN.get(_layer(a), set())}
    broken = {(a, b) for a, b in broken if not any(a == k[0] and b.startswith(k[1]) for k in KNOWN)}
    assert not broken, "\n".join(f"{a} imports {b}" for a, b in sorted(broken))


def test_known_exceptions_are_still_real():
    edges = _imports()
    for importer, imported in KNOWN:
        assert any(a == importer and b.startswith(imported) for a, b in edges), (
            f"{importer} no longer imports {imported}: remove it from KNOWN"
        )


def package_edges() -> list[str]:
    """Which package imports which (root modules as "root"), one line per importer, sorted:
    the diagram docs/architecture.md shows."""
    edges: dict[str, set[str]] = {}
    for importer, imported in _imports():
        a, b = _layer(importer) or "root", _layer(imported) or "root"
        a = "root" if importer.count(".") == 1 and not (PACKAGE / a).is_dir() else a
        b_mod = imported.split(".")
        b = b if (PACKAGE / b).is_dir() else "root"
        if a != b and len(b_mod) > 1:
            edges.setdefault(a, set()).add(b)
    return [f"{a:<11} -> {', '.join(sorted(bs))}" for a, bs in sorted(edges.items())]


DIAGRAM_START, DIAGRAM_END = "<!-- imports:start -->", "<!-- imports:end -->"


def test_the_architecture_doc_shows_the_imports_as_they_are():
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    shown = doc.split(DIAGRAM_START)[1].split(DIAGRAM_END)[0].strip().strip("`").strip()
    assert shown.splitlines() == package_edges(), (
        "docs/architecture.md's import list is out of date; print the current one with "
        "`python -m tests.test_layers` and paste it between the markers"
    )


if __name__ == "__main__":
    print("\n".join(package_edges()))


def test_sql_text_is_written_only_in_the_store():
    """Outside store/, queries are SQLAlchemy Core expressions: no exec_driver_sql, no text()."""
    found = []
    for path, tree in _trees():
        if path.relative_to(PACKAGE).parts[0] == "store":
            continue
        text_names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
            for alias in node.names
            if alias.name == "text"
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == "exec_driver_sql" or (
                    isinstance(node.func, ast.Name) and node.func.id in text_names
                ):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not found, "SQL text outside cop_widgets/store/: " + ", ".join(found)
