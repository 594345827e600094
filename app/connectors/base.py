"""The kind-neutral connector: configuration, credentials, authentication, one request path.

A connector turns Forecourt's data into calls on one marketplace's API. It never decides
*when* to retry or pause: it raises an exception from :mod:`app.connectors.errors` named by
what the caller must do next. What the engine calls on it depends on its kind
(:mod:`app.connectors.kinds`); this class holds only what every kind shares.

Connectors never import Flask; everything they need (HTTP, cache) is injected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal

import requests

from app.connectors import http
from app.connectors.auth import Auth
from app.connectors.cache import Cache, MemoryCache, RedisCache
from app.connectors.errors import (
    Conflict,
    ConnectorError,
    FixInput,
    NotFound,
    Reauthenticate,
    RetryAt,
    RetryLater,
)
from app.connectors.http import Call, Kind, SimpleTransport, Transport
from app.connectors.payload import canonical_json, diff_payload, fingerprint
from app.connectors.registry import available, get_connector_class, register
from app.listings.vehicle import Vehicle

Operation = Literal["create", "update", "delete", "noop", "skip"]

# Re-exported: callers outside the package import these from here.
__all__ = [
    "Cache", "Call", "Conflict", "Connector", "ConnectorError", "ConnectorKind", "FixInput", "Kind", "MemoryCache",
    "NotFound", "RateLimits", "Reauthenticate", "RedisCache", "RemoteState", "RetryAt",
    "RetryLater", "SimpleTransport", "SyncOutcome", "Transport", "available", "canonical_json",
    "diff_payload", "fingerprint", "get_connector_class", "register",
]


class ConnectorKind(StrEnum):
    """The shape of a destination, which decides what the engine calls on it."""

    LISTING = "listing"
    FEED = "feed"
    LEAD = "lead"
    SOURCE = "source"


@dataclass(frozen=True)
class RateLimits:
    """The marketplace's published per-key budget; the engine enforces it across workers."""

    reads: int = 60
    writes: int = 30
    window: float = 60.0


@dataclass
class RemoteState:
    """What we know about a car at one destination, as stored after the last success."""

    remote_id: str | None = None
    external_ref: str | None = None
    fingerprint: str | None = None
    payload: dict[str, Any] | None = None  # the last full payload the remote accepted


@dataclass
class SyncOutcome:
    """Result of one successful operation; store ``payload``/``fingerprint`` as the new state."""

    operation: Operation
    remote_id: str | None = None
    external_ref: str | None = None
    payload: dict[str, Any] | None = None
    fingerprint: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["calls"] = [list(call) for call in self.calls]
        return data

    def remote_state(self) -> RemoteState | None:
        """The state to persist, or None when the remote object is gone (after a delete)."""
        if self.operation == "delete":
            return None
        return RemoteState(self.remote_id, self.external_ref, self.fingerprint, self.payload)


class Connector:
    """Base of every connector; one instance per job (it is not thread-safe)."""

    kind: ClassVar[ConnectorKind]  # set by the kind's base class in app.connectors.kinds
    slug: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    # Every secret the destination holds (all encrypted at rest with the destination).
    credential_fields: ClassVar[tuple[str, ...]] = ()
    # When a remote takes either of several credential sets (a key, or a login and password),
    # the sets; one must be complete and ``credential_fields`` lists them all. Empty: all required.
    credential_choices: ClassVar[tuple[tuple[str, ...], ...]] = ()
    auth: ClassVar[Auth] = Auth()  # no authentication unless the connector picks a strategy
    rate_limits: ClassVar[RateLimits] = RateLimits()
    # Options the connector reads; callers merging site and destination options filter to
    # these. Empty means "pass everything".
    option_names: ClassVar[tuple[str, ...]] = ()
    user_agent: ClassVar[str] = "Forecourt/1.0"
    # Photo rules checked before anything is sent (Carslink: at least 4, all HTTPS).
    min_images: ClassVar[int] = 0
    https_images_only: ClassVar[bool] = False

    def __init__(
        self,
        *,
        base_url: str | None = None,
        credentials: Mapping[str, str],
        options: Mapping[str, Any] | None = None,
        transport: Transport,
        cache: Cache,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.credentials = dict(credentials or {})
        self.options: dict[str, Any] = dict(options or {})
        self.transport = transport
        self.cache = cache
        self.calls: list[Call] = []
        missing = self.missing_credentials(self.credentials)
        if missing:
            raise Reauthenticate(
                f"{self.name}: missing credential(s): {', '.join(missing)}",
                fields={name: "required" for name in missing},
            )
        problems = self.validate_options(self.options)
        if problems:
            raise FixInput(f"{self.name}: invalid destination options", fields=problems)

    @property
    def name(self) -> str:
        return self.display_name or self.slug or "remote"

    # ---- hooks ----------------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        """Problems with the destination's options, keyed by option name (empty when fine)."""
        return {}

    @classmethod
    def missing_credentials(cls, credentials: Mapping[str, str]) -> list[str]:
        """The credential fields still needed (for a choice: those of its first set)."""
        def absent(names: tuple[str, ...]) -> list[str]:
            return [f for f in names if not str(credentials.get(f) or "")]

        if not cls.credential_choices:
            return absent(cls.credential_fields)
        if any(not absent(names) for names in cls.credential_choices):
            return []
        return absent(cls.credential_choices[0])

    @classmethod
    def rate_key(cls, credentials: Mapping[str, str]) -> str:
        """The secret the marketplace counts its rate limit on: destinations holding the same
        one share a budget. The auth strategy's key unless a connector says otherwise."""
        return cls.auth.rate_key(credentials)

    def check_credentials(self) -> dict[str, Any]:
        """Live check of the credentials; returns what the remote says about the account."""
        raise NotImplementedError

    def check_images(self, vehicle: Vehicle) -> None:
        """Raise FixInput when the car's usable photos cannot meet this marketplace's rules."""
        urls = [image.url or "" for image in vehicle.images or []]
        if self.https_images_only:
            urls = [url for url in urls if url.lower().startswith("https://")]
        if len(urls) < self.min_images:
            raise FixInput(
                f"{self.name} needs at least {self.min_images} {'HTTPS ' if self.https_images_only else ''}photos; "
                f"this car has {len(urls)} usable",
                fields={"images": f"at least {self.min_images} required, {len(urls)} usable"},
            )

    # ---- HTTP ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(
        self,
        kind: Kind,
        method: str,
        path: str,
        *,
        operation: str | None = None,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        authenticate: bool = True,
    ) -> requests.Response:
        """Send one request, record it in ``self.calls`` under ``operation`` (the connector's
        name for it in the attempt log), and ``classify`` the response. A 401 gets one retry
        when the auth strategy can refresh (a login token); then it is ``Reauthenticate``.
        Without an ``operation`` a read logs as "read", a write as its lower-cased method."""
        operation = operation or ("read" if kind == "read" else method.lower())
        response = self._send(kind, method, path, operation, json_body, params, authenticate)
        if response.status_code == 401 and authenticate and self.auth.refresh(self):
            response = self._send(kind, method, path, operation, json_body, params, authenticate)
        if response.status_code >= 300:
            self.classify(response)
        return response

    def _send(
        self,
        kind: Kind,
        method: str,
        path: str,
        operation: str,
        json_body: Any,
        params: Mapping[str, Any] | None,
        authenticate: bool,
    ) -> requests.Response:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if authenticate:
            headers.update(self.auth.headers(self))
        kwargs: dict[str, Any] = {"headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if params:
            kwargs["params"] = dict(params)
        started = time.monotonic()
        try:
            response = self.transport.request(kind, method, self.url(path), **kwargs)
        except RetryAt:
            # The engine's transport refuses over-budget requests before sending: no call.
            raise
        except ConnectorError:
            self.calls.append(Call(method, path, None, _ms_since(started), None, operation))
            raise
        except requests.RequestException as exc:
            # A transport other than SimpleTransport may let these through.
            self.calls.append(Call(method, path, None, _ms_since(started), None, operation))
            raise RetryLater(f"{method} {path} failed: {exc}") from exc
        self.calls.append(
            Call(method, path, response.status_code, _ms_since(started),
                 http.request_id_of(response), operation)
        )
        return response

    def request_id_of(self, response: requests.Response, body: Any = None) -> str | None:
        return http.request_id_of(response, body)

    def classify(self, response: requests.Response) -> None:
        """Raise the exception that tells the caller what to do about a non-2xx response
        (the common error envelope; override for a remote that answers differently)."""
        http.classify(response, self.name, self.rate_limits.window)

    @contextmanager
    def operation(self) -> Iterator[list[Call]]:
        """Scope ``self.calls`` to one public operation; failures carry the calls made."""
        self.calls = []
        try:
            yield self.calls
        except ConnectorError as exc:
            exc.calls = list(self.calls)
            raise

    def outcome(self, operation: Operation, **kwargs: Any) -> SyncOutcome:
        """A SyncOutcome whose status/request id/calls come from the last call made."""
        last = self.calls[-1] if self.calls else None
        kwargs.setdefault("http_status", last.status if last else None)
        kwargs.setdefault("request_id", last.request_id if last else None)
        return SyncOutcome(operation=operation, calls=list(self.calls), **kwargs)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
