"""Headers every answer carries, and the session cookie's Secure flag.

Pages, /docs/ and downloads alike: no sniffing of content types (a stored HTML file named
.fits is served as what it was stored as, never rendered), no framing, nothing loaded from
elsewhere. Swagger UI (/docs/) starts from one inline script, the only exception.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def security_headers(response: Response) -> Response:
    docs = request.path.rstrip("/").endswith("/docs") or request.blueprint == "api-docs"
    response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


class SessionInterface(SecureCookieSessionInterface):
    """The cookie is Secure when configured so, or when the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(security_headers)
