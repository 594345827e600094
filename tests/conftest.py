"""Shared fixtures: a real Redis, a real database (SQLite, and PostgreSQL when
``TEST_DATABASE_URL`` is set), the app on top of them, and the marketplace sandbox."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from cryptography.fernet import Fernet

from app.config import Settings
from tests.support.services import RedisServer, create_postgres_database

ADMIN_TOKEN = "test-admin-token-0123456789"
ENCRYPTION_KEY = Fernet.generate_key().decode()


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | None]:
    if os.environ.get("TEST_REDIS_URL"):
        yield None
        return
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer | None) -> str:
    return os.environ.get("TEST_REDIS_URL") or redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session", params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "forecourt.db"
        yield f"sqlite:///{path}"
        return
    url, drop = create_postgres_database(os.environ["TEST_DATABASE_URL"])
    yield url
    drop()


def make_settings(tmp_path: Path, database_url: str, redis_url: str, **overrides) -> Settings:
    values = dict(
        env="test",
        var_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=redis_url,
        admin_token=ADMIN_TOKEN,
        encryption_keys=(ENCRYPTION_KEY,),
        secret_key="test-secret",
        log_json=True,
        log_level="WARNING",
        debounce_seconds=0.3,
        debounce_max_wait_seconds=1.5,
        retry_backoff_seconds=(1, 1, 1),
        public_base_url="http://127.0.0.1:8000",
    )
    values.update(overrides)
    return Settings(**values)


_migrated: set[str] = set()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    return make_settings(tmp_path, database_url, redis_url)


@pytest.fixture
def app(settings: Settings, redis_client: redis_lib.Redis):
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    app = create_app(settings)
    with app.app_context():
        if settings.database_url not in _migrated:
            upgrade()
            _migrated.add(settings.database_url)
        else:
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class ServerThread:
    """A WSGI app on an ephemeral loopback port, over real HTTP."""

    def __init__(self, wsgi_app) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------- marketplace sandbox

CARZLE_KEY = "cz_test_forecourt_demo"
DMS_KEY = "dms_test_key_0123456789"


@pytest.fixture(scope="session")
def sandbox_server():
    from sandbox.app import create_sandbox_app, get_registry
    from sandbox.common import SandboxSettings

    settings = SandboxSettings(
        require_https_images=False,
        allow_private_image_hosts=True,
        carzle_keys=[f"{CARZLE_KEY}:demo-motors:*"],
    )
    app = create_sandbox_app(settings)
    with ServerThread(app) as server:
        server.registry = get_registry(app)
        yield server


@pytest.fixture
def carzle(sandbox_server):
    """The Carzle sandbox over real HTTP, reset and with production limits for each test."""
    from app.connectors.carzle import forget_parsed_metadata

    registry = sandbox_server.registry
    registry.reset()
    forget_parsed_metadata()
    registry.update_config({"rate_window_seconds": 60, "read_limit": 60, "write_limit": 30,
                            "fault_rate": 0.0, "latency_ms": 0})
    sandbox_server.carzle = registry.carzle
    sandbox_server.api_url = f"{sandbox_server.url}/carzle/api/v1"
    sandbox_server.key = CARZLE_KEY
    return sandbox_server


@pytest.fixture
def site(app, carzle):
    """A dealer site on the Inventory Presser preset with a Carzle destination on the sandbox."""
    from app.sites import cache, config_file
    from app.sites.models import Site
    from tests.support.wordpress import SECRET

    toml = f"""
[[sites]]
id = "demo"
name = "Demo Motors"
webhook_secret = "{SECRET}"
dms_api_key = "{DMS_KEY}"
preset = "inventory-presser"
ref_scheme = "stock_number"

  [[sites.destinations]]
  marketplace = "carzle"
  base_url = "{carzle.api_url}"
  api_key = "{CARZLE_KEY}"
  regional_specs = "GCC"
"""
    config_file.apply(config_file.parse(toml, {}))
    cache.clear()
    from app.extensions import db

    return db.session.get(Site, "demo")
