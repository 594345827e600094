from __future__ import annotations

import redis

from app.ops import embedded_redis


def test_embedded_redis_starts_once_and_persists(tmp_path):
    var = tmp_path / "var"
    url = embedded_redis.ensure_running(var)
    try:
        assert url == embedded_redis.ensure_running(var)  # a second process finds it running
        client = redis.Redis.from_url(url)
        client.set("k", "v")
        assert (var / "redis" / "appendonly.aof").exists() or (var / "redis" / "appendonlydir").exists()
        embedded_redis.stop(var)
        client = redis.Redis.from_url(embedded_redis.ensure_running(var))
        assert client.get("k") == b"v"  # the append-only file brought it back
    finally:
        embedded_redis.stop(var)


def test_app_without_redis_url_uses_the_embedded_server(tmp_path, database_url):
    from app import create_app
    from app.extensions import redis_store
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, database_url, None))
    try:
        with app.app_context():
            assert redis_store.url.startswith("unix://")
            assert redis_store.client.ping()
    finally:
        embedded_redis.stop(tmp_path / "var")
