"""Every error leaves the app here, as {"detail": str, "errors"?: {field: [str]}}.

There is no catch-all handler: an unexpected exception takes Flask's own 500 path (logged
with its traceback, re-raised under testing), and only its answer is put in our shape.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from ..domain.errors import ArcsecError

DETAILS = {
    400: "Bad request.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    413: "Request entity too large.",
    415: "Unsupported media type.",
    500: "Internal server error.",
}


def error_response(status: int, detail: str, errors: dict | None = None, headers=None):
    body: dict = {"detail": detail}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for name, value in headers or []:
        response.headers[name] = value
    return response


def _field_errors(messages: dict) -> dict[str, list[str]]:
    """Flatten webargs' {location: {field: [msg]}} into {field: [msg]}."""
    errors: dict[str, list[str]] = {}
    for per_location in messages.values():
        items = per_location.items() if isinstance(per_location, dict) else [("", per_location)]
        for field, msgs in items:
            if isinstance(msgs, dict):  # nested field: keep it readable
                msgs = [f"{key}: {value}" for key, value in msgs.items()]
            elif not isinstance(msgs, list):
                msgs = [str(msgs)]
            errors.setdefault(field or "non_field_errors", []).extend(str(m) for m in msgs)
    return errors


def handle_http_exception(error: HTTPException):
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs: a validation error, or a body that is not JSON
        errors = _field_errors(data["messages"])
        summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        return error_response(400, f"Invalid input. {summary}", errors)
    if isinstance(error, MethodNotAllowed):
        return error_response(405, f'Method "{request.method}" not allowed.', headers=headers)
    detail = DETAILS.get(error.code or 500, error.description or error.name)
    if error.description and error.description != type(error).description:
        detail = error.description
    return error_response(error.code or 500, detail, headers=headers)


def handle_domain_error(error: ArcsecError):
    return error_response(error.status, error.detail, error.errors)


def handle_validation_error(error: ValidationError):
    messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
    errors = _field_errors({"body": messages})
    summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
    return error_response(400, f"Invalid input. {summary}", errors)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ArcsecError, handle_domain_error)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(InternalServerError, handle_http_exception)
