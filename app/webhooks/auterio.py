"""Answering a DMS written for Auterio as Auterio would, so it can point at Forecourt unchanged.

Auterio answers ``{"success", "imported", "skipped", "source"}`` (plus ``errors`` when a vehicle
was skipped), 400 "Invalid payload or no valid vehicles" when nothing in the batch is usable,
and 401 with one of two messages. Forecourt keeps those keys and messages, and its own error
envelope beside them (``error`` is ``{"code", "message", "fields", "requestId"}``, the one
envelope every Forecourt error uses). Accepted batches get 202, as every hook does: the
vehicles are queued, not yet synced.

The Carslink-format endpoint keeps Carslink's shape; this module is only for Auterio bodies.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify
from marshmallow import ValidationError

from app.errors import ApiError
from app.listings.formats.feeds import FeedLoad
from app.messages import flatten_messages
from app.sites.cache import SiteView

INGEST_PATH = "/api/vehicles/ingest"  # an Auterio client appends this to its base URL
MISSING_HEADER = "Missing or invalid Authorization header"
BAD_KEY = "API key is invalid or inactive"
INVALID = "Invalid payload or no valid vehicles"


def looks_like_auterio(path: str, body: bytes) -> bool:
    """Before authentication, only to word a 401: Auterio's path, or a ``vehicles`` body.
    (After it, the parsed body decides the format.)"""
    return path.endswith(INGEST_PATH) or (b'"vehicles"' in body and b'"listings"' not in body)


def unauthorized(exc: ApiError) -> Response:
    """Auterio's two 401 messages: a key that matched nothing, or no usable header at all."""
    message = BAD_KEY if exc.code == "invalid_api_key" else MISSING_HEADER
    response = _answer(401, {"success": False}, exc.code, message, {})
    response.headers["WWW-Authenticate"] = 'Bearer realm="forecourt"'
    return response


def invalid_payload(problem: ValidationError | ApiError) -> Response:
    """A body Auterio would refuse as a whole (not JSON, no ``vehicles``, 0 or > 1000)."""
    if isinstance(problem, ValidationError):
        fields = flatten_messages(problem.messages)
        code = "validation_failed"
    else:
        fields, code = dict(problem.fields), problem.code
        fields.setdefault("_schema", problem.message)
    errors = [{"index": None, "vin": None, "error": f"{name}: {text}" if name != "_schema" else text}
              for name, text in fields.items()]
    return _answer(400, {"success": False, "imported": 0, "skipped": 0, "errors": errors},
                   code, INVALID, fields)


def no_valid_vehicles(site: SiteView, feed: FeedLoad) -> Response:
    """Every vehicle was invalid: 400 with each one's reason, nothing queued."""
    errors = _errors(feed)
    fields = {f"vehicles.{e['index']}": e["error"] for e in errors}
    body = {"success": False, "imported": 0, "skipped": len(errors), "source": site.name, "errors": errors}
    return _answer(400, body, "no_valid_vehicles", INVALID, fields)


def accepted(site: SiteView, feed: FeedLoad, delivery: str) -> Response:
    """Auterio's success body; ``imported`` counts the vehicles queued for the dealer's stock."""
    body = {"success": True, "imported": len(feed.accepted), "skipped": len(feed.skipped),
            "source": site.name, "errors": _errors(feed), "syncId": delivery}
    response = jsonify(body)
    response.status_code = 202
    return response


def _errors(feed: FeedLoad) -> list[dict[str, Any]]:
    return [{"index": s.get("index"), "vin": s.get("vin"), "error": s.get("reason")} for s in feed.skipped]


def _answer(status: int, body: dict[str, Any], code: str, message: str, fields: dict[str, Any]) -> Response:
    body["error"] = {"code": code, "message": message, "fields": fields, "requestId": g.get("request_id")}
    response = jsonify(body)
    response.status_code = status
    return response
