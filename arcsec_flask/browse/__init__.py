"""Pages for people: the browseable API (every JSON answer as a page) and the login."""

from __future__ import annotations

from flask import Flask

from . import login, pages


def init_app(app: Flask) -> None:
    app.register_blueprint(login.bp)
    app.after_request(pages.browse_response)
