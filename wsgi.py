"""The WSGI entry point: `gunicorn wsgi:app`."""

from arcsec_flask import create_app

app = create_app()
