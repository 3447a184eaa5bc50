"""The factory: configuration order, data folder, secret key."""

from __future__ import annotations

from pathlib import Path

from arcsec_flask import create_app


def test_defaults_create_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCSEC_DATA_DIR", raising=False)
    app = create_app()
    assert app.config["DATA_DIR"] == str(tmp_path / "instance")
    assert Path(app.config["DATABASE"]).is_file()
    assert (tmp_path / "instance" / "files").is_dir()
    assert app.config["PAGE_SIZE"] == 100


def test_environment_then_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCSEC_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("ARCSEC_PAGE_SIZE", "7")
    monkeypatch.setenv("ARCSEC_MAX_PAGE_SIZE", "50")
    app = create_app({"PAGE_SIZE": 3})
    assert app.config["DATA_DIR"] == str(tmp_path / "from-env")
    assert app.config["MAX_PAGE_SIZE"] == 50  # from the environment, coerced to int
    assert app.config["PAGE_SIZE"] == 3  # the mapping wins


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = create_app({"DATA_DIR": str(tmp_path)})
    second = create_app({"DATA_DIR": str(tmp_path)})
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_given_secret_key_is_used(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "s" * 40})
    assert app.config["SECRET_KEY"] == "s" * 40
    assert not (tmp_path / "secret_key").exists()


def test_nothing_reads_the_environment_at_import(tmp_path, monkeypatch):
    app_a = create_app({"DATA_DIR": str(tmp_path / "a")})
    monkeypatch.setenv("ARCSEC_PAGE_SIZE", "9")
    app_b = create_app({"DATA_DIR": str(tmp_path / "b")})
    assert (app_a.config["PAGE_SIZE"], app_b.config["PAGE_SIZE"]) == (100, 9)
