"""Extensions, created bare here and bound to an app in ``create_app`` (``init_app``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.ops import embedded_redis

if TYPE_CHECKING:
    from app.config import Settings

# Explicit constraint names keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def tune_sqlite(dbapi_connection, _record) -> None:
    """SQLite is the embedded default, shared by the web, worker and scheduler processes:
    WAL lets readers proceed while one process writes, synchronous=FULL keeps every commit
    durable, and a busy timeout waits for a writer instead of failing with "locked"."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
migrate = Migrate()


class RedisExtension:
    """One lazily-connected client per app; starts the embedded server on first use if needed."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._client: redis.Redis | None = None

    def init_app(self, app: Flask, settings: Settings) -> None:
        self._settings = settings
        self._client = None
        app.extensions["forecourt_redis"] = self

    @property
    def url(self) -> str:
        assert self._settings is not None, "init_app first"
        return self._settings.redis_url or embedded_redis.embedded_url(self._settings.var_dir)

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            assert self._settings is not None, "init_app first"
            if not self._settings.redis_url:
                embedded_redis.ensure_running(self._settings.var_dir)
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
            )
        return self._client


redis_store = RedisExtension()
