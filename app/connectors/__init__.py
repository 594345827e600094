"""Marketplace connectors. Importing this package registers every built-in connector.

Layout: ``kinds`` (the four kinds and their operations), ``base`` (the kind-neutral
Connector), ``errors``, ``http`` (session, transport, reset headers, classification),
``auth``, ``pagination``, ``cache``, ``payload``, ``registry``, ``bisect`` (a feed batch
refused as a whole); one package or module per marketplace (``carzle/``, ``auterio/``).
"""

from app.connectors.auterio import AuterioConnector  # importing registers "auterio"
from app.connectors.auth import Auth, Basic, LoginToken, StaticKey
from app.connectors.base import Connector, RateLimits, RemoteState, SyncOutcome
from app.connectors.cache import Cache, MemoryCache, RedisCache
from app.connectors.carfluence import CarfluenceConnector  # importing registers "carfluence"
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
from app.connectors.roadster import RoadsterConnector  # importing registers "roadster"

__all__ = [
    "AdoptionMatch",
    "Auth",
    "AuterioConnector",
    "Basic",
    "BatchResult",
    "Cache",
    "Call",
    "CarOutcome",
    "CarfluenceConnector",
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
    "RoadsterConnector",
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
