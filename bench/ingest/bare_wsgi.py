"""The ceiling for ``bench/ingest``: a bare WSGI callable (no Flask app, no routing, no
signature check, no schema) that does the same Redis work per webhook as Forecourt's
``POST /hooks/wordpress/<site_id>``: one ``Debouncer.submit`` (the same Lua script, the same
keys, a dedupe key from ``webhook-id``) with an event document of the same shape and size.

Served by gunicorn with the same settings as Forecourt (``bench/ingest/run.py`` swaps only the
WSGI target on the Procfile's ``web:`` line).
"""

from __future__ import annotations

import json
import os
import time

import redis

from app.sync.debounce import Debouncer, DebounceWindow

_client = redis.Redis.from_url(
    os.environ["REDIS_URL"], socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
)
_debouncer = Debouncer(
    _client,
    DebounceWindow(float(os.environ.get("DEBOUNCE_SECONDS", "12")),
                   float(os.environ.get("DEBOUNCE_MAX_WAIT_SECONDS", "60"))),
)
_PREFIX = "/hooks/wordpress/"


def _answer(start_response, status: str, payload: dict) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _answer(start_response, "200 OK", {"status": "ok"})
    if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(_PREFIX):
        return _answer(start_response, "404 Not Found", {"error": "not found"})
    site_id = path[len(_PREFIX):]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length)
    delivery_id = environ.get("HTTP_WEBHOOK_ID", "")
    data = json.loads(raw)
    post_id = str(data["post_id"])
    doc = {
        "channel": "wordpress",
        "body": data,
        "hint": None,
        "event": data.get("event", "save_post"),
        "family": "standard",
        "delivery_id": delivery_id,
        "request_id": None,
        "modified_at": time.time(),
        "received_at": time.time(),
    }
    result = _debouncer.submit(site_id, post_id, doc, dedupe_id=delivery_id)
    if result in ("duplicate", b"duplicate"):
        return _answer(start_response, "200 OK", {"status": "duplicate", "carRef": post_id})
    return _answer(start_response, "202 Accepted",
                   {"status": "accepted", "carRef": post_id, "deliveryId": delivery_id})
