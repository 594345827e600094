"""Authentication strategies over real HTTP on loopback, login tokens kept in a real Redis."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from sqlalchemy import text
from werkzeug.wrappers import Request, Response

from app.connectors.auth import Auth, Basic, LoginToken, StaticKey
from app.connectors.base import Connector
from app.connectors.cache import RedisCache
from app.connectors.errors import Reauthenticate
from app.connectors.http import SimpleTransport
from app.connectors.registry import register
from app.extensions import db
from app.sites import config_file
from app.sites.models import Site
from app.sync.budget import budget_id
from app.sync.destinations import budget_for
from tests.conftest import ServerThread


class Probe(Connector):
    slug = "probe"
    display_name = "Probe"
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    def echo(self) -> dict[str, Any]:
        with self.operation():
            return self.request("read", "GET", "/echo", operation="read").json()


def probe(auth: Auth, url: str, credentials: dict[str, str], cache: Any = None) -> Probe:
    cls = type("P", (Probe,), {"auth": auth, "credential_fields": tuple(credentials)})
    return cls(base_url=url, credentials=credentials, transport=SimpleTransport(),
               cache=cache or RedisCache(None))


# ----------------------------------------------------------------------------- static keys


@Request.application
def echo_app(request: Request) -> Response:
    return Response(json.dumps({"headers": dict(request.headers)}), content_type="application/json")


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with ServerThread(echo_app) as server:
        yield server.url


@pytest.mark.parametrize(
    ("auth", "credentials", "header", "expected"),
    [
        (StaticKey("api_key"), {"api_key": "k1"}, "Authorization", "Bearer k1"),
        (StaticKey("api_key", header="X-Dealer-Api-Key", scheme=None), {"api_key": "k2"},
         "X-Dealer-Api-Key", "k2"),
        (StaticKey("api_key", scheme="Token"), {"api_key": "k3"}, "Authorization", "Token k3"),
        (StaticKey("api_key", scheme=None), {"api_key": "k4"}, "Authorization", "k4"),
        (Basic("username", "password"), {"username": "u", "password": "p"}, "Authorization",
         "Basic " + base64.b64encode(b"u:p").decode()),
    ],
)
def test_static_strategies_send_the_declared_header(auth, credentials, header, expected, echo_url):
    seen = probe(auth, echo_url, credentials).echo()["headers"]
    assert seen[header] == expected


@pytest.mark.parametrize(
    ("auth", "credentials", "rate_key"),
    [
        (StaticKey("api_key"), {"encryption_key": "e", "api_key": "k"}, "k"),
        (Basic("username", "password"), {"password": "p", "username": "u"}, "u"),
        (LoginToken(), {"password": "p", "email": "me@dealer.example"}, "me@dealer.example"),
    ],
)
def test_the_rate_key_is_the_one_the_strategy_names(auth, credentials, rate_key):
    cls = type("P", (Probe,), {"auth": auth})
    assert cls.rate_key(credentials) == rate_key


# ----------------------------------------------------------------------------- login token


class LoginServer:
    """Issues numbered tokens; ``revoke`` makes every issued token invalid."""

    def __init__(self) -> None:
        self.logins = 0
        self.valid: set[str] = set()
        self.reject_tokens = False
        self.lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)

    @Request.application
    def app(self, request: Request) -> Response:
        if request.path == "/auth/login":
            body = request.get_json()
            if body != {"email": "me@dealer.example", "password": "right"}:
                return self._json({"error": {"code": "bad_login", "message": "wrong password"}}, 401)
            with self.lock:
                self.logins += 1
                token = f"tok{self.logins}"
                self.valid.add(token)
            return self._json({"token": token, "expires_in": 3600})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.reject_tokens or token not in self.valid:
            return self._json({"error": {"code": "unauthorized", "message": "token expired"}}, 401)
        return self._json({"headers": dict(request.headers)})

    def revoke(self) -> None:
        self.valid.clear()

    @staticmethod
    def _json(body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")


@pytest.fixture
def login_server() -> Iterator[tuple[LoginServer, str]]:
    remote = LoginServer()
    with ServerThread(remote) as server:
        yield remote, server.url


LOGIN = {"email": "me@dealer.example", "password": "right"}


def test_a_login_token_is_kept_in_redis_and_shared(login_server, connector_redis):
    remote, url = login_server
    cache = RedisCache(connector_redis)
    first = probe(LoginToken(), url, LOGIN, cache)
    assert first.echo()["headers"]["Authorization"] == "Bearer tok1"
    assert [c.operation for c in first.calls] == ["login", "read"]
    # Another worker's connector finds the token in Redis: no second login.
    second = probe(LoginToken(), url, LOGIN, cache)
    assert second.echo()["headers"]["Authorization"] == "Bearer tok1"
    assert remote.logins == 1
    (key,) = connector_redis.keys("forecourt:cache:auth:*")
    assert LOGIN["email"].encode() not in key  # the login is hashed in the key
    assert 0 < connector_redis.ttl(key) <= 3600 - 60


def test_a_401_logs_in_again_once(login_server, connector_redis):
    remote, url = login_server
    connector = probe(LoginToken(), url, LOGIN, RedisCache(connector_redis))
    connector.echo()
    remote.revoke()
    assert connector.echo()["headers"]["Authorization"] == "Bearer tok2"
    assert [(c.operation, c.status) for c in connector.calls] == [
        ("read", 401), ("login", 200), ("read", 200),
    ]


def test_a_second_401_asks_for_new_credentials(login_server, connector_redis):
    remote, url = login_server
    connector = probe(LoginToken(), url, LOGIN, RedisCache(connector_redis))
    remote.reject_tokens = True
    with pytest.raises(Reauthenticate) as info:
        connector.echo()
    assert remote.logins == 2  # the first login, then exactly one refresh
    assert [c.status for c in info.value.calls] == [200, 401, 200, 401]


def test_a_rejected_login_asks_for_new_credentials(login_server, connector_redis):
    remote, url = login_server
    connector = probe(LoginToken(), url, {**LOGIN, "password": "wrong"}, RedisCache(connector_redis))
    with pytest.raises(Reauthenticate, match="wrong password"):
        connector.echo()
    assert remote.logins == 0


# ----------------------------------------------------------------------------- several secrets


@register
class TwoSecrets(Connector):
    """A destination holding an API key and an encryption key (Roadster's shape)."""

    slug = "two_secrets_test"
    display_name = "Two secrets"
    credential_fields = ("api_key", "encryption_key")
    auth = StaticKey("api_key", scheme="Token")


TWO = """
[[sites]]
id = "twin"
name = "Twin Motors"
wordpress_url = "https://twin.example"
webhook_secret = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
preset = "inventory-presser"

  [[sites.destinations]]
  marketplace = "two_secrets_test"
  base_url = "https://two.example/api"
  api_key = "${KEY}"
  encryption_key = "${CIPHER}"
"""


def test_every_declared_secret_is_stored_encrypted_and_the_rate_key_is_named(app):
    env = {"KEY": "tk_live_111", "CIPHER": "cipher_222"}
    config_file.apply(config_file.parse(TWO, env))
    raw = db.session.execute(text("SELECT credentials FROM destinations")).scalar_one()
    assert raw.startswith("gAAAAA")
    assert env["KEY"] not in raw and env["CIPHER"] not in raw
    db.session.expire_all()
    dest = db.session.get(Site, "twin").destinations[0]
    assert dest.credentials == {"api_key": env["KEY"], "encryption_key": env["CIPHER"]}
    assert budget_for(dest).ident == budget_id(dest.base_url, env["KEY"])


def test_a_missing_secret_names_itself() -> None:
    with pytest.raises(Reauthenticate) as info:
        TwoSecrets(credentials={"api_key": "k"}, transport=SimpleTransport(), cache=RedisCache(None))
    assert info.value.fields == {"encryption_key": "required"}
