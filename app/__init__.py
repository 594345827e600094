"""Forecourt: keeps dealers' marketplace listings in step with their sites and DMS."""

from __future__ import annotations

import logging
import secrets
import time

from flask import Flask, g, request

from app.config import Settings
from app.extensions import db, migrate, redis_store
from app.ops.logging import accept_request_id, configure_logging, request_id_var
from app.security.crypto import vault

log = logging.getLogger("forecourt.http")


def create_app(config: Settings | None = None) -> Flask:
    settings = config or Settings.from_env()
    configure_logging(settings.log_level, json_format=settings.log_json)

    app = Flask(__name__)
    app.config.update(
        FORECOURT=settings,
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        SQLALCHEMY_DATABASE_URI=settings.sqlalchemy_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)

    from app.ops.sentry import init_sentry

    init_sentry(settings)
    vault.init_app(settings)
    db.init_app(app)
    if settings.sqlalchemy_url.startswith("sqlite"):
        from sqlalchemy import event

        from app.extensions import tune_sqlite

        with app.app_context():
            event.listen(db.engine, "connect", tune_sqlite)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    redis_store.init_app(app, settings)

    _register_models()
    _install_request_ids(app)

    from app.errors import register_error_handlers
    from app.ops.dashboard import init_dashboard
    from app.ops.health import bp as health_bp

    register_error_handlers(app)
    app.register_blueprint(health_bp)
    init_dashboard(app)
    _register_api(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _migrations_dir():
    from app.ops.health import MIGRATIONS_DIR

    return MIGRATIONS_DIR


def _register_models() -> None:
    # Imported for their side effect of declaring tables on db.metadata.
    import app.auth.models  # noqa: F401

    # Registers every connector, and the status overrides their packages contribute to mapping.
    import app.connectors  # noqa: F401
    import app.leads.models  # noqa: F401
    import app.listings.history  # noqa: F401
    import app.listings.inbound_events  # noqa: F401
    import app.listings.models  # noqa: F401
    import app.media.models  # noqa: F401
    import app.sites.models  # noqa: F401
    import app.sources.models  # noqa: F401


def _register_api(app: Flask) -> None:
    from app.api.sources import bp as sources_api_bp
    from app.api.views import bp as api_bp
    from app.leads.views import bp as leads_bp
    from app.media.views import bp as media_bp
    from app.ops.metrics import bp as metrics_bp
    from app.webhooks.views import bp as hooks_bp

    app.register_blueprint(sources_api_bp)  # before api_bp: its /cars/<ref>/… routes are more specific
    app.register_blueprint(api_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(hooks_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(leads_bp)
    from app.feeds.views import admin as feeds_admin_bp
    from app.feeds.views import pull as feeds_pull_bp

    app.register_blueprint(feeds_admin_bp)
    app.register_blueprint(feeds_pull_bp)


def _install_request_ids(app: Flask) -> None:
    @app.before_request
    def _start():
        g.request_id = accept_request_id(request.headers.get("X-Request-Id"))
        g.started = time.perf_counter()
        request_id_var.set(g.request_id)

    @app.after_request
    def _finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if request.path in ("/healthz", "/readyz"):
            return response
        # An accepted delivery is already recorded (inbound_events, with its request id), so
        # at thousands per second its access line is DEBUG; anything else stays INFO.
        quiet = response.status_code < 300 and request.path.startswith("/hooks/")
        level = logging.DEBUG if quiet else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
                },
            )
        return response
