"""One Flask app hosting every marketplace emulation side by side.

Layout::

    /healthz                 liveness
    /_sandbox/...            control API (no auth; never part of any marketplace)
    /carzle/api/v1/...       Carzle Dealer API
    /carslink/api/v1/stock   Carslink partner push API
    /auterio/api/vehicles/ingest  Auterio DMS ingest API
    /roadster/...            Roadster partner API (/v1/customers) and Express storefronts
    /carfluence/api/v1/...   Carfluence REST API
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, Response, jsonify, request

from sandbox.auterio import AuterioSandbox
from sandbox.carfluence import CarfluenceSandbox
from sandbox.carslink import CarslinkSandbox
from sandbox.carzle import CarzleSandbox
from sandbox.common import ApiError, Marketplace, SandboxSettings, SettingsError, install_common, json_body_or_error
from sandbox.roadster import RoadsterSandbox

# Marketplace whose control routes are also reachable without the name segment
# (``/_sandbox/keys`` == ``/_sandbox/carzle/keys``), kept for brevity in dev scripts.
DEFAULT_MARKETPLACE = "carzle"
EXTENSION_KEY = "forecourt_sandbox"
# Control routes that exist globally and therefore must not be aliased to one marketplace.
_GLOBAL_CONTROL = {"/stats", "/reset", "/config"}


class SandboxRegistry:
    """The shared settings plus every marketplace's state object."""

    def __init__(self, settings: SandboxSettings, marketplaces: list[Marketplace]) -> None:
        self.settings = settings
        self.marketplaces: dict[str, Marketplace] = {m.name: m for m in marketplaces}
        self._lock = threading.Lock()

    @property
    def carzle(self) -> CarzleSandbox:
        market = self.marketplaces["carzle"]
        assert isinstance(market, CarzleSandbox)
        return market

    @property
    def carslink(self) -> CarslinkSandbox:
        market = self.marketplaces["carslink"]
        assert isinstance(market, CarslinkSandbox)
        return market

    @property
    def auterio(self) -> AuterioSandbox:
        market = self.marketplaces["auterio"]
        assert isinstance(market, AuterioSandbox)
        return market

    def update_config(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply runtime setting changes; raises ``SettingsError`` and changes nothing if any is bad."""
        with self._lock:
            changed = self.settings.update(changes)
            for market in self.marketplaces.values():
                market.on_settings_changed(changed)
            return self.settings.to_dict()

    def reset(self) -> None:
        """Reset every marketplace's data and counters. Settings are left as they are."""
        for market in self.marketplaces.values():
            market.reset()

    def stats(self) -> dict[str, Any]:
        return {name: market.stats() for name, market in self.marketplaces.items()}


def get_registry(app: Flask) -> SandboxRegistry:
    return app.extensions[EXTENSION_KEY]


def create_sandbox_app(settings: SandboxSettings | None = None) -> Flask:
    """Build the sandbox app. The same ``settings`` object is shared with every marketplace,
    so runtime config changes (``POST /_sandbox/config``) take effect everywhere at once."""
    settings = settings or SandboxSettings()
    app = Flask("sandbox")
    app.json.sort_keys = False  # keep documented field order in responses
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024  # listings are small; 413 beyond this
    install_common(app)  # first, so the request id exists before marketplace hooks run

    markets: list[Marketplace] = [
        CarzleSandbox(settings), CarslinkSandbox(settings), AuterioSandbox(settings),
        RoadsterSandbox(settings), CarfluenceSandbox(settings),
    ]
    registry = SandboxRegistry(settings, markets)
    for market in registry.marketplaces.values():
        market.register(app)
    app.extensions[EXTENSION_KEY] = registry

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "marketplaces": sorted(registry.marketplaces)})

    _register_control(app, registry)
    return app


def _register_control(app: Flask, registry: SandboxRegistry) -> None:
    index: list[str] = []

    def add(rule: str, endpoint: str, view: Any, methods: list[str]) -> None:
        app.add_url_rule(rule, endpoint, view, methods=methods)
        index.extend(f"{m} {rule}" for m in methods)

    def control_index() -> Response:
        return jsonify({"endpoints": index, "marketplaces": sorted(registry.marketplaces)})

    def reset() -> Response:
        registry.reset()
        return jsonify({"reset": True})

    def get_config() -> Response:
        return jsonify(registry.settings.to_dict())

    def set_config() -> Response:
        data = json_body_or_error(request.get_data()) or {}
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", "Request body must be a JSON object.")
        try:
            return jsonify(registry.update_config(data))
        except SettingsError as exc:
            raise ApiError(422, "validation_failed", "Invalid sandbox settings.", exc.errors) from exc

    def stats() -> Response:
        return jsonify(registry.stats())

    add("/_sandbox", "sandbox_index", control_index, ["GET"])
    add("/_sandbox/reset", "sandbox_reset", reset, ["POST"])
    add("/_sandbox/config", "sandbox_get_config", get_config, ["GET"])
    add("/_sandbox/config", "sandbox_set_config", set_config, ["POST", "PATCH"])
    add("/_sandbox/stats", "sandbox_stats", stats, ["GET"])
    for name, market in registry.marketplaces.items():
        for rule, endpoint, view, methods in market.control_routes():
            add(f"/_sandbox/{name}{rule}", f"sandbox_{name}_{endpoint}", view, methods)
            if name == DEFAULT_MARKETPLACE and rule not in _GLOBAL_CONTROL:
                add(f"/_sandbox{rule}", f"sandbox_default_{endpoint}", view, methods)
