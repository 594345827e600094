"""All configuration from the environment: one line per variable, each with a coercer.

Nothing here touches the network or the disk; ``Settings.from_env`` is pure so that
``create_app`` stays free of I/O at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """Start-up configuration is wrong; the message names the offending key."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean, got {raw!r}")


def _int_list(raw: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in raw.split(",") if part.strip())
    if not values or any(v < 0 for v in values):
        raise ValueError("expected a comma list of non-negative integers")
    return values


def _str_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _optional(raw: str) -> str | None:
    return raw.strip() or None


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


@dataclass(frozen=True)
class Settings:
    # name = (ENV VAR, coercer, default) is declared in _ENV below; fields carry the defaults.
    env: str = "development"
    port: int = 8000
    var_dir: Path = Path("var")
    database_url: str | None = None  # None → SQLite file under var_dir
    redis_url: str | None = None  # None → embedded redis-server under var_dir
    config_path: Path | None = None
    secret_key: str | None = None
    encryption_keys: tuple[str, ...] = ()
    admin_token: str | None = None
    sentry_dsn: str | None = None
    sentry_environment: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    debounce_seconds: float = 12.0
    debounce_max_wait_seconds: float = 60.0
    retry_backoff_seconds: tuple[int, ...] = (30, 120, 600)
    rate_reset_max_seconds: float = 900.0
    webhook_tolerance_seconds: int = 300
    max_body_bytes: int = 1_048_576
    http_connect_timeout: float = 3.05
    http_read_timeout: float = 20.0
    log_level: str = "INFO"
    log_json: bool = True
    reconcile_cron: str = "0 3 * * *"
    full_feed_cron: str = "0 0,12 * * *"
    history_retention_days: float = 90.0  # car versions and sent payloads kept this long
    history_purge_cron: str = "30 3 * * *"
    full_feed_timezone: str = "Europe/London"  # FULL_FEED_CRON is read in this zone
    media_allow_private_hosts: tuple[str, ...] = ()
    media_s3_bucket: str | None = None  # set: photos go to this S3-compatible bucket
    media_s3_endpoint_url: str | None = None  # R2, MinIO, ...; unset: AWS
    media_s3_region: str | None = None
    media_s3_public_url: str | None = None  # CDN or bucket URL the marketplaces fetch from
    lead_wait_seconds: float = 2.0  # how long a shopper's enquiry waits for a lead destination
    lead_retention_days: int = 90  # leads (personal data) older than this are purged
    lead_purge_cron: str = "30 3 * * *"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (var, coerce) in _ENV.items():
            raw = environ.get(var)
            if raw is None:
                continue
            try:
                values[name] = coerce(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{var}: {exc}") from None
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.env not in {"development", "test", "production"}:
            raise ConfigError("FORECOURT_ENV: must be development, test or production")
        if self.media_s3_bucket and not self.media_s3_public_url:
            raise ConfigError("MEDIA_S3_PUBLIC_URL: required with MEDIA_S3_BUCKET (the URL marketplaces fetch)")
        if self.debounce_max_wait_seconds < self.debounce_seconds:
            raise ConfigError("DEBOUNCE_MAX_WAIT_SECONDS: must be >= DEBOUNCE_SECONDS")
        if self.is_production:
            for attr, var in (
                ("encryption_keys", "FORECOURT_ENCRYPTION_KEYS"),
                ("secret_key", "SECRET_KEY"),
                ("admin_token", "FORECOURT_ADMIN_TOKEN"),
            ):
                if not getattr(self, attr):
                    raise ConfigError(f"{var}: required outside development")
            # Carzle fetches photos over HTTPS only: an http:// base would drop every photo.
            if not self.public_base_url.lower().startswith("https://"):
                raise ConfigError(
                    "PUBLIC_BASE_URL: must be an https:// URL in production (marketplaces fetch "
                    f"photos from it and refuse plain HTTP); got {self.public_base_url!r}"
                )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.var_dir / 'forecourt.db').resolve()}"


def normalise_database_url(url: str) -> str:
    # Heroku-style postgres:// URLs name no driver; psycopg 3 is the one we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "env": ("FORECOURT_ENV", str.strip),
    "port": ("PORT", int),
    "var_dir": ("FORECOURT_VAR_DIR", Path),
    "database_url": ("DATABASE_URL", _optional),
    "redis_url": ("REDIS_URL", _optional),
    "config_path": ("FORECOURT_CONFIG", lambda raw: Path(raw) if raw.strip() else None),
    "secret_key": ("SECRET_KEY", _optional),
    "encryption_keys": ("FORECOURT_ENCRYPTION_KEYS", _str_list),
    "admin_token": ("FORECOURT_ADMIN_TOKEN", _optional),
    "sentry_dsn": ("SENTRY_DSN", _optional),
    "sentry_environment": ("SENTRY_ENVIRONMENT", _optional),
    "public_base_url": ("PUBLIC_BASE_URL", lambda raw: raw.strip().rstrip("/")),
    "debounce_seconds": ("DEBOUNCE_SECONDS", _positive_float),
    "debounce_max_wait_seconds": ("DEBOUNCE_MAX_WAIT_SECONDS", _positive_float),
    "retry_backoff_seconds": ("RETRY_BACKOFF_SECONDS", _int_list),
    "rate_reset_max_seconds": ("RATE_RESET_MAX_SECONDS", _positive_float),
    "webhook_tolerance_seconds": ("WEBHOOK_TOLERANCE_SECONDS", int),
    "max_body_bytes": ("MAX_BODY_BYTES", int),
    "http_connect_timeout": ("HTTP_CONNECT_TIMEOUT", _positive_float),
    "http_read_timeout": ("HTTP_READ_TIMEOUT", _positive_float),
    "log_level": ("LOG_LEVEL", lambda raw: raw.strip().upper()),
    "log_json": ("LOG_JSON", _bool),
    "reconcile_cron": ("RECONCILE_CRON", str.strip),
    "full_feed_cron": ("FULL_FEED_CRON", str.strip),
    "history_retention_days": ("HISTORY_RETENTION_DAYS", _positive_float),
    "history_purge_cron": ("HISTORY_PURGE_CRON", str.strip),
    "full_feed_timezone": ("FULL_FEED_TIMEZONE", str.strip),
    "media_allow_private_hosts": ("MEDIA_ALLOW_PRIVATE_HOSTS", _str_list),
    "media_s3_bucket": ("MEDIA_S3_BUCKET", _optional),
    "media_s3_endpoint_url": ("MEDIA_S3_ENDPOINT_URL", _optional),
    "media_s3_region": ("MEDIA_S3_REGION", _optional),
    "media_s3_public_url": ("MEDIA_S3_PUBLIC_URL", _optional),
    "lead_wait_seconds": ("LEAD_WAIT_SECONDS", _positive_float),
    "lead_retention_days": ("LEAD_RETENTION_DAYS", int),
    "lead_purge_cron": ("LEAD_PURGE_CRON", str.strip),
}

assert set(_ENV) <= {f.name for f in fields(Settings)}
