from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Settings, normalise_database_url


@pytest.mark.parametrize(
    ("environ", "attr", "expected"),
    [
        ({}, "retry_backoff_seconds", (30, 120, 600)),
        ({"RETRY_BACKOFF_SECONDS": "5, 10"}, "retry_backoff_seconds", (5, 10)),
        ({"DEBOUNCE_SECONDS": "2.5"}, "debounce_seconds", 2.5),
        ({"PORT": "9000"}, "port", 9000),
        ({"REDIS_URL": ""}, "redis_url", None),
        ({"FORECOURT_CONFIG": "sites.toml"}, "config_path", Path("sites.toml")),
        ({"MEDIA_ALLOW_PRIVATE_HOSTS": "a.local, b.local"}, "media_allow_private_hosts", ("a.local", "b.local")),
        ({"LOG_JSON": "no"}, "log_json", False),
        ({}, "rate_reset_max_seconds", 900.0),
        ({"RATE_RESET_MAX_SECONDS": "300"}, "rate_reset_max_seconds", 300.0),
        ({"PUBLIC_BASE_URL": "https://fc.example/"}, "public_base_url", "https://fc.example"),
    ],
)
def test_environment_is_coerced(environ, attr, expected):
    assert getattr(Settings.from_env(environ), attr) == expected


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"RETRY_BACKOFF_SECONDS": "30,-1"}, "RETRY_BACKOFF_SECONDS"),
        ({"DEBOUNCE_SECONDS": "-3"}, "DEBOUNCE_SECONDS"),
        ({"DEBOUNCE_SECONDS": "90"}, "DEBOUNCE_MAX_WAIT_SECONDS"),
        ({"FORECOURT_ENV": "staging"}, "FORECOURT_ENV"),
        ({"LOG_JSON": "maybe"}, "LOG_JSON"),
    ],
)
def test_bad_values_name_the_variable(environ, names):
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(environ)


@pytest.mark.parametrize("missing", ["FORECOURT_ENCRYPTION_KEYS", "SECRET_KEY", "FORECOURT_ADMIN_TOKEN"])
def test_production_refuses_to_start_without_secrets(missing):
    environ = {
        "FORECOURT_ENV": "production",
        "FORECOURT_ENCRYPTION_KEYS": "k",
        "SECRET_KEY": "s",
        "FORECOURT_ADMIN_TOKEN": "t",
        "PUBLIC_BASE_URL": "https://fc.example",
    }
    del environ[missing]
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("base_url", "accepted"),
    [
        ("https://fc.example", True),
        ("HTTPS://fc.example", True),
        ("http://fc.example", False),
        ("http://127.0.0.1:8000", False),
        ("fc.example", False),
    ],
)
def test_production_requires_an_https_public_base_url(base_url, accepted):
    environ = {"FORECOURT_ENV": "production", "FORECOURT_ENCRYPTION_KEYS": "k", "SECRET_KEY": "s",
               "FORECOURT_ADMIN_TOKEN": "t", "PUBLIC_BASE_URL": base_url}
    if accepted:
        assert Settings.from_env(environ).public_base_url == base_url
    else:
        with pytest.raises(ConfigError, match="PUBLIC_BASE_URL: must be an https:// URL in production"):
            Settings.from_env(environ)


def test_http_public_base_url_is_fine_outside_production():
    assert Settings.from_env({"PUBLIC_BASE_URL": "http://127.0.0.1:8000"}).public_base_url.startswith("http:")


def test_database_url_defaults_to_sqlite_under_var(tmp_path):
    settings = Settings(var_dir=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'forecourt.db'}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_get_a_driver(url, expected):
    assert normalise_database_url(url) == expected
