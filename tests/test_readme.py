"""The README's configuration table lists every setting create_app reads, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from arcsec_flask.config import DEFAULTS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_once():
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `ARCSEC_([A-Z0-9_]+)` \|", table, flags=re.M)
    assert sorted(documented) == sorted(DEFAULTS)
    assert len(documented) == len(set(documented))


def test_settings_are_read_from_the_environment_only_in_create_app(tmp_path, monkeypatch):
    from arcsec_flask import create_app

    monkeypatch.setenv("ARCSEC_PAGE_SIZE", "7")
    monkeypatch.setenv("ARCSEC_ALLOWED_HOSTS", "a.example, b.example")
    app = create_app({"DATA_DIR": str(tmp_path)})
    assert app.config["PAGE_SIZE"] == 7
    assert app.config["ALLOWED_HOSTS"] == ["a.example", "b.example"]
