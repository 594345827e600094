"""Admin API: sites, cars, sync state, Sync Now, replay."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
