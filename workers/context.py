"""The Flask app a worker process runs its jobs in, and the per-job wrapper."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

from app.ops.logging import request_id_var

_app: Flask | None = None
F = TypeVar("F", bound=Callable[..., Any])


def get_app() -> Flask:
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def set_app(app: Flask) -> None:
    """Used by the worker entry point so jobs share the app it built."""
    global _app
    _app = app


def job(func: F) -> F:
    """Run a job inside an app context with the originating request id in its logs."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rq import get_current_job

        from app.extensions import db

        current = get_current_job()
        token = request_id_var.set(current.meta.get("request_id") if current else None)
        try:
            with get_app().app_context():
                try:
                    return func(*args, **kwargs)
                finally:
                    db.session.remove()
        finally:
            request_id_var.reset(token)

    return wrapper  # type: ignore[return-value]
