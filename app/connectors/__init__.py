"""Marketplace connectors. Importing this package registers every built-in connector.

Layout: ``kinds`` (the four kinds and their operations), ``base`` (the kind-neutral
Connector), ``errors``, ``http`` (session, transport, reset headers, classification),
``auth``, ``pagination``, ``cache``, ``payload``, ``registry``; one package or module per
marketplace (``carzle/``).
"""

from app.connectors.auth import Auth, Basic, LoginToken, StaticKey
from app.connectors.base import Connector, RateLimits, RemoteState, SyncOutcome
from app.connectors.cache import Cache, MemoryCache, RedisCache
from app.connectors.carslink import CarslinkConnector  # importing registers "carslink"
from app.connectors.carzle import CarzleConnector  # importing registers "carzle"
from app.connectors.errors import (
    Conflict,
    ConnectorError,
    FixInput,
    NotFound,
    Reauthenticate,
    RetryAt,
    RetryLater,
)
from app.connectors.http import Call, SimpleTransport, Transport
from app.connectors.kinds import (
    AdoptionMatch,
    BatchResult,
    CarOutcome,
    ConnectorKind,
    FeedItem,
    FeedSink,
    InventorySource,
    LeadResult,
    LeadSink,
    ListingSink,
    Page,
)
from app.connectors.payload import diff_payload, fingerprint
from app.connectors.registry import available, get_connector_class, register

__all__ = [
    "AdoptionMatch",
    "Auth",
    "Basic",
    "BatchResult",
    "Cache",
    "Call",
    "CarOutcome",
    "CarslinkConnector",
    "CarzleConnector",
    "Conflict",
    "Connector",
    "ConnectorError",
    "ConnectorKind",
    "FeedItem",
    "FeedSink",
    "FixInput",
    "InventorySource",
    "LeadResult",
    "LeadSink",
    "ListingSink",
    "LoginToken",
    "MemoryCache",
    "NotFound",
    "Page",
    "RateLimits",
    "Reauthenticate",
    "RedisCache",
    "RemoteState",
    "RetryAt",
    "RetryLater",
    "SimpleTransport",
    "StaticKey",
    "SyncOutcome",
    "Transport",
    "available",
    "diff_payload",
    "fingerprint",
    "get_connector_class",
    "register",
]
