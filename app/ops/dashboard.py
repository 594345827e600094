"""rq-dashboard at /rq, behind admin auth, with its destructive actions needing a write scope."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request

from app.auth import keys
from app.errors import ApiError, Forbidden, Unauthorized
from app.extensions import redis_store

PREFIX = "/rq"
# rq-dashboard requeues a queue's failed jobs on GET too, so paths matter as well as methods.
_DESTRUCTIVE_PATHS = ("/requeue/", "/delete", "/empty", "/compact")


def _is_destructive() -> bool:
    path = request.path[len(PREFIX) :]
    return request.method not in ("GET", "HEAD", "OPTIONS") or any(p in path for p in _DESTRUCTIVE_PATHS)


def _same_origin() -> bool:
    # Basic auth is resent by browsers automatically, so a cross-site form could ride on it.
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlsplit(source).netloc == request.host


def init_dashboard(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_store.url
    setup_rq_connection(app)

    @app.before_request
    def _guard_dashboard():
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return None
        try:
            write = _is_destructive()
            keys.require(request, "dashboard:write" if write else "dashboard:read", all_sites=True)
            if write and not _same_origin():
                raise Forbidden("Dashboard actions must come from the dashboard itself.")
        except Unauthorized as exc:
            exc.headers = {"WWW-Authenticate": 'Basic realm="Forecourt RQ dashboard"'}
            raise
        except ApiError:
            raise
        redis_store.client  # starts the embedded server before rq-dashboard connects  # noqa: B018
        return None

    app.register_blueprint(rq_dashboard.blueprint, url_prefix=PREFIX)
