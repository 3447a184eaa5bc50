"""The layering of docs/architecture.md: each folder of the package is one layer, and a
module imports only from its own folder or from layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "arcsec_flask"
# Lowest first. A layer may import any layer of a lower rank, never a higher or an equal one
# (other than its own folder): repo and storage know nothing of each other, nor do the API
# and the pages.
RANK = {
    "domain": 0,
    "headers": 1,
    "images": 2,
    "repo": 3,
    "storage": 3,
    "services": 4,
    "web": 5,
    "resources": 6,
    "browse": 6,
    "cli": 7,
}
WEB = ("flask", "flask_smorest", "werkzeug", "webargs", "marshmallow")
FLASK_FREE = ["domain", "headers", "images", "repo", "storage", "services"]
NO_SQL = ["domain", "headers", "images", "storage"]


def _imports(path: Path, package: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    parts = ("arcsec_flask", *path.relative_to(package).parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _module_file(name: str, package: Path) -> Path | None:
    relative = name.removeprefix("arcsec_flask").lstrip(".").replace(".", "/")
    for candidate in (package / f"{relative}.py", package / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _layer(path: Path, package: Path) -> str:
    return path.relative_to(package).parts[0]


def layer_violations(package: Path) -> list[str]:
    """Every import of a module in a layer folder that points sideways or up."""
    found: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        layer = _layer(path, package)
        if layer not in RANK:
            continue  # the package's __init__ and config, where the layers meet
        for name in _imports(path, package):
            if name.split(".")[0] != "arcsec_flask":
                continue
            target = _module_file(name, package)
            if target is None or target == package / "__init__.py":
                continue
            other = _layer(target, package)
            if other == layer:
                continue
            if other not in RANK or RANK[other] >= RANK[layer]:
                found.add(f"{path.relative_to(package)} imports {other}/")
    return sorted(found)


def _reach(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Every external top-level module `path` imports, following the package's own."""
    seen = seen if seen is not None else set()
    if path in seen:
        return set()
    seen.add(path)
    external = set()
    for name in _imports(path, PACKAGE):
        if name.split(".")[0] != "arcsec_flask":
            external.add(name.split(".")[0])
            continue
        target = _module_file(name, PACKAGE)
        if target is not None and target != PACKAGE / "__init__.py":
            external |= _reach(target, seen)
    return external


def _files(entries: list[str]) -> list[Path]:
    return [p for entry in entries for p in sorted((PACKAGE / entry).rglob("*.py"))]


def test_every_folder_is_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= set(RANK), folders - set(RANK)
    top_level = {p.name for p in PACKAGE.glob("*.py")}
    assert top_level == {"__init__.py", "config.py"}


def test_imports_point_down_only():
    assert layer_violations(PACKAGE) == []


def test_the_checker_catches_an_upward_import(tmp_path):
    package = tmp_path / "arcsec_flask"
    for folder in ("domain", "repo", "web"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "web" / "db.py").write_text("X = 1\n")
    (package / "repo" / "good.py").write_text("from ..domain import errors\n")
    (package / "domain" / "errors.py").write_text("")
    (package / "domain" / "bad.py").write_text("from ..repo import good\n")
    (package / "repo" / "worse.py").write_text("from arcsec_flask.web.db import X\n")
    assert layer_violations(package) == [
        "domain/bad.py imports repo/",
        "repo/worse.py imports web/",
    ]


@pytest.mark.parametrize("path", _files(FLASK_FREE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_web_framework_below_the_web_layer(path):
    assert not _reach(path) & set(WEB)


@pytest.mark.parametrize("path", _files(NO_SQL), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_domain_has_no_database(path):
    assert not _reach(path) & {"sqlite3", "sqlite_utils"}


def test_no_sql_in_views():
    for folder in ("resources", "browse", "web"):
        for path in (PACKAGE / folder).rglob("*.py"):
            text = path.read_text()
            for word in ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", ".execute("):
                assert word not in text, (path.name, word)


def test_the_checker_sees_flask():
    """The Flask-free test would catch a regression: web/db.py does reach Flask."""
    assert "flask" in _reach(PACKAGE / "web" / "db.py")


def test_no_portal_name_can_shadow_a_route(app):
    """Every first path segment the app routes is a word no organisation may take."""
    from arcsec_flask.domain.names import RESERVED

    for rule in app.url_map.iter_rules():
        first = rule.rule.strip("/").split("/")[0]
        if first and not first.startswith("<"):
            assert first in RESERVED, rule.rule
