"""Named errors of the domain. Raised by every layer below the web; web/errors.py maps
them to HTTP statuses, the CLI to messages."""

from __future__ import annotations


class ArcsecError(Exception):
    status = 400

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(ArcsecError):
    status = 404

    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(detail)


class Invalid(ArcsecError):
    """Bad input: a 400, with field messages when they apply to a field."""

    status = 400


class Conflict(Invalid):
    """The input is well formed but clashes with what exists (a duplicate name...)."""


class PermissionDenied(ArcsecError):
    status = 403

    def __init__(self, detail: str = "You do not have permission to perform this action.") -> None:
        super().__init__(detail)


class NotAuthenticated(ArcsecError):
    status = 401

    def __init__(self, detail: str = "Authentication credentials were not provided.") -> None:
        super().__init__(detail)
