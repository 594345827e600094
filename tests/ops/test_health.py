from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import make_settings
from tests.support.services import RedisServer


def test_healthz_is_always_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_ready_when_everything_is_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"redis": "ok", "database": "ok", "migrations": "ok"}


def test_readyz_fails_when_redis_is_down(tmp_path, database_url, app):
    server = RedisServer().start()
    down_app = create_app(make_settings(tmp_path, database_url, server.url))
    try:
        assert down_app.test_client().get("/readyz").status_code == 200
        server.stop()
        response = down_app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["redis"].startswith("error")
    finally:
        server.close()


def test_readyz_fails_before_migrations(tmp_path, redis_url):
    fresh = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}", redis_url))
    response = fresh.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "pending"


def test_migrations_run_from_empty_and_match_the_models(tmp_path, redis_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    fresh = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", redis_url))
    with fresh.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        downgrade(revision="base")
        upgrade()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/nope"])
def test_every_response_carries_a_request_id(client, path):
    response = client.get(path)
    assert response.headers["X-Request-Id"].startswith("req_")


def test_unknown_paths_use_the_error_envelope(client):
    response = client.get("/nope", headers={"X-Request-Id": "req_caller_supplied_1"})
    assert response.status_code == 404
    body = response.get_json()["error"]
    assert body["code"] == "not_found"
    assert body["requestId"] == "req_caller_supplied_1"
    assert set(body) == {"code", "message", "fields", "requestId"}
