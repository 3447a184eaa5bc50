"""The layering STYLE.md asks for: repo, headers and the domain never reach Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "arcsec_flask"
WEB = ("flask", "flask_smorest", "werkzeug", "webargs", "marshmallow")
FLASK_FREE = [
    "repo",
    "headers",
    "nights.py",
    "storage.py",
    "timezones.py",
    "keys.py",
    "exceptions.py",
    "ingest.py",
]
NO_SQL = ["headers", "nights.py", "timezones.py"]


def _module_file(name: str) -> Path | None:
    relative = name.removeprefix("arcsec_flask").lstrip(".").replace(".", "/")
    for candidate in (PACKAGE / f"{relative}.py", PACKAGE / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    package = ".".join(("arcsec_flask", *path.relative_to(PACKAGE).parent.parts)).rstrip(".")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _reach(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Every external module `path` imports, following arcsec_flask's own modules
    (the package's __init__, which builds the app, is where the layers meet: skipped)."""
    seen = seen if seen is not None else set()
    if path in seen:
        return set()
    seen.add(path)
    external = set()
    for name in _imports(path):
        if name.split(".")[0] != "arcsec_flask":
            external.add(name.split(".")[0])
            continue
        target = _module_file(name)
        if target is not None and target != PACKAGE / "__init__.py":
            external |= _reach(target, seen)
    return external


def _files(entries: list[str]) -> list[Path]:
    files = []
    for entry in entries:
        path = PACKAGE / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


@pytest.mark.parametrize("path", _files(FLASK_FREE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_web_framework_below_the_views(path):
    assert not _reach(path) & set(WEB)


@pytest.mark.parametrize("path", _files(NO_SQL), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_domain_has_no_database(path):
    assert not _reach(path) & {"sqlite3", "sqlite_utils"}


def test_no_sql_in_views():
    for path in (PACKAGE / "resources").glob("*.py"):
        text = path.read_text()
        for word in ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", ".execute("):
            assert word not in text, (path.name, word)


def test_the_checker_sees_flask():
    """The test above would catch a regression: db.py does reach Flask."""
    assert "flask" in _reach(PACKAGE / "db.py")


def test_no_portal_name_can_shadow_a_route(app):
    """Every first path segment the app routes is a word no organisation may take."""
    from arcsec_flask.paths import RESERVED

    for rule in app.url_map.iter_rules():
        first = rule.rule.strip("/").split("/")[0]
        if first and not first.startswith("<"):
            assert first in RESERVED, rule.rule
