"""Liveness and readiness."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, jsonify

from app.extensions import db, redis_store

bp = Blueprint("health", __name__)
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@cache
def expected_heads() -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks: dict[str, str] = {}
    try:
        redis_store.client.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["redis"] = f"error: {type(exc).__name__}"
    try:
        with db.engine.connect() as conn:
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == expected_heads() else "pending"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
