"""One JSON error envelope everywhere: {"error": {"code", "message", "fields", "requestId"}}."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.messages import flatten_messages


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, Any] | None = None,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.status = status or self.status
        self.code = code or self.code
        self.headers = headers or {}


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


def error_response(status: int, code: str, message: str, fields: dict[str, Any] | None = None):
    body = {
        "error": {
            "code": code,
            "message": message,
            "fields": fields or {},
            "requestId": g.get("request_id"),
        }
    }
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        body, status = error_response(exc.status, exc.code, exc.message, exc.fields)
        return body, status, exc.headers

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        return error_response(
            422, "validation_failed", "One or more fields are invalid.", flatten_messages(exc.messages)
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        body, status = error_response(exc.code or 500, code, exc.description or exc.name)
        return body, status, {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong; quote the requestId.")
