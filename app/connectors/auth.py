"""Authentication strategies. A connector picks one as its ``auth`` class attribute:

===============================  =============================================
``StaticKey("api_key")``         ``Authorization: Bearer <key>`` (Carzle)
``StaticKey(k, header="X-…")``   a custom header carrying the bare key (Carslink)
``StaticKey(k, scheme="Token")`` ``Authorization: Token <key>`` (Roadster posts)
``StaticKey(k, scheme=None)``    ``Authorization: <key>`` (Roadster reads)
``Basic("user", "password")``    HTTP Basic
``LoginToken("/auth/login")``    log in, keep the token in Redis until it expires,
                                 log in again once on a 401 (Carfluence)
===============================  =============================================

Each strategy also names the secret the marketplace counts its rate limit on
(:meth:`Auth.rate_key`), so destinations sharing an account share one budget.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.connectors.errors import Reauthenticate

if TYPE_CHECKING:
    from app.connectors.base import Connector


class Auth:
    """No authentication (a public API); the base of every strategy."""

    key_field: str = ""

    def headers(self, connector: Connector) -> dict[str, str]:
        return {}

    def refresh(self, connector: Connector) -> bool:
        """After a 401: make fresh credentials and say whether one retry may succeed.
        A static key cannot get any better, so the 401 stands."""
        return False

    def rate_key(self, credentials: Mapping[str, str]) -> str:
        """The secret the remote counts requests against (never logged or stored: hashed)."""
        return str(credentials.get(self.key_field) or "")


@dataclass(frozen=True)
class StaticKey(Auth):
    """One key sent on every request: ``<header>: [<scheme> ]<key>``."""

    key_field: str = "api_key"
    header: str = "Authorization"
    scheme: str | None = "Bearer"

    def headers(self, connector: Connector) -> dict[str, str]:
        key = connector.credentials[self.key_field]
        return {self.header: f"{self.scheme} {key}" if self.scheme else key}


@dataclass(frozen=True)
class Basic(Auth):
    key_field: str = "username"
    password_field: str = "password"

    def headers(self, connector: Connector) -> dict[str, str]:
        pair = f"{connector.credentials[self.key_field]}:{connector.credentials[self.password_field]}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}


@dataclass(frozen=True)
class LoginToken(Auth):
    """Log in with a username and password for a token; send it as ``Bearer``.

    The token is kept in the connector's shared cache (Redis in workers) until shortly before
    it expires: ``expires_in`` seconds from the login answer, else the JWT's ``exp`` claim,
    else ``default_ttl``. On a 401 the cached token is dropped and the connector logs in once
    more; a second 401 is ``Reauthenticate``."""

    path: str = "/auth/login"
    key_field: str = "email"
    password_field: str = "password"
    body_names: tuple[str, str] = ("email", "password")
    token_name: str = "token"
    default_ttl: int = 3600
    margin: int = 60  # log in again this long before the token runs out

    def headers(self, connector: Connector) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(connector)}"}

    def refresh(self, connector: Connector) -> bool:
        connector.cache.delete(self._cache_key(connector))
        self.token(connector)
        return True

    def token(self, connector: Connector) -> str:
        key = self._cache_key(connector)
        cached = connector.cache.get_json(key)
        if isinstance(cached, str) and cached:
            return cached
        body = {
            self.body_names[0]: connector.credentials[self.key_field],
            self.body_names[1]: connector.credentials[self.password_field],
        }
        response = connector.request(
            "write", "POST", self.path, json_body=body, operation="login", authenticate=False
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        data = answer.get("data", answer) if isinstance(answer, Mapping) else None
        token = data.get(self.token_name) if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            raise Reauthenticate(f"{connector.name}: the login answer carried no {self.token_name!r}")
        ttl = self._ttl(data, token) - self.margin
        if ttl > 0:
            connector.cache.set_json(key, token, ttl)
        return token

    def _ttl(self, data: Mapping[str, Any], token: str) -> int:
        expires_in = data.get("expires_in", data.get("expiresIn"))
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            return int(expires_in)
        exp = _jwt_exp(token)
        if exp is not None:
            return int(exp - time.time())
        return self.default_ttl

    def _cache_key(self, connector: Connector) -> str:
        # Hashed: cache keys show up in Redis MONITOR and dumps, logins must not.
        who = f"{connector.base_url}\0{connector.credentials.get(self.key_field, '')}"
        return f"auth:{connector.slug}:{hashlib.sha256(who.encode()).hexdigest()[:32]}"


def _jwt_exp(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it: only to know when to log in again."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, Mapping) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


@dataclass(frozen=True)
class KeyOrLogin(Auth):
    """Either of two ways, chosen by the credentials a destination holds: a static key when it
    has one (``key.key_field``), otherwise a login (Carfluence: a ``cf_live_`` key or an
    email and password)."""

    key: StaticKey = StaticKey("api_key")
    login: LoginToken = LoginToken()

    def pick(self, credentials: Mapping[str, str]) -> Auth:
        return self.key if credentials.get(self.key.key_field) else self.login

    def headers(self, connector: Connector) -> dict[str, str]:
        return self.pick(connector.credentials).headers(connector)

    def refresh(self, connector: Connector) -> bool:
        return self.pick(connector.credentials).refresh(connector)

    def rate_key(self, credentials: Mapping[str, str]) -> str:
        return self.pick(credentials).rate_key(credentials)
