"""Stateful emulation of the Carzle Dealer API (``/api/v1``), mounted at ``/carzle/api/v1``.

Carzle publishes no sandbox, so this module is the only way to exercise Forecourt's Carzle
connector end to end. It follows the public docs rule by rule (scoped Bearer keys, 60/30 rate
limits, the error envelope, 409 on duplicate ``externalRef``, 422 field errors, image ingestion
that really downloads every source URL, create-only enrichment, soft delete). Where the docs
are silent the choice is documented in ``sandbox/README.md``.

``CarzleSandbox`` holds all state behind one lock and is usable without Flask: tests can call
its methods directly or inspect it while driving it over HTTP.
"""

from __future__ import annotations

from flask import Flask

from sandbox.carzle.images import image_info
from sandbox.carzle.records import ANONYMOUS, ApiKey, Contact, KeyStats, Listing, Showroom, parse_timestamp
from sandbox.carzle.reference import (
    BODY_TYPES,
    CATALOG,
    CDN_BASE,
    DEFAULT_STATUS,
    EXTERNAL_REF_MAX,
    FEATURE_CATEGORIES,
    FEATURE_TAGS,
    FUEL_TYPES,
    MAX_FEATURES,
    MAX_IMAGES,
    MAX_MEGAPIXELS,
    METADATA_VERSION,
    PRICE_LIMIT,
    REGIONAL_SPECS,
    SCOPES,
    STATUSES,
    TRANSMISSIONS,
    VEHICLE_SPECS,
    YEAR_MIN,
    lookup_vehicle_spec,
)
from sandbox.carzle.sandbox import CarzleSandbox
from sandbox.carzle.schema import ENRICHABLE_FIELDS, FIELDS, READ_ONLY_FIELDS, REQUIRED_FIELDS
from sandbox.common import SandboxSettings

__all__ = [
    "ANONYMOUS",
    "BODY_TYPES",
    "CATALOG",
    "CDN_BASE",
    "DEFAULT_STATUS",
    "ENRICHABLE_FIELDS",
    "EXTERNAL_REF_MAX",
    "FEATURE_CATEGORIES",
    "FEATURE_TAGS",
    "FIELDS",
    "FUEL_TYPES",
    "MAX_FEATURES",
    "MAX_IMAGES",
    "MAX_MEGAPIXELS",
    "METADATA_VERSION",
    "PRICE_LIMIT",
    "READ_ONLY_FIELDS",
    "REGIONAL_SPECS",
    "REQUIRED_FIELDS",
    "SCOPES",
    "STATUSES",
    "TRANSMISSIONS",
    "VEHICLE_SPECS",
    "YEAR_MIN",
    "ApiKey",
    "CarzleSandbox",
    "Contact",
    "KeyStats",
    "Listing",
    "SandboxSettings",
    "Showroom",
    "create_sandbox_app",
    "image_info",
    "lookup_vehicle_spec",
    "parse_timestamp",
]


def create_sandbox_app(settings: SandboxSettings | None = None) -> Flask:
    """Convenience re-export of :func:`sandbox.app.create_sandbox_app`."""
    from sandbox.app import create_sandbox_app as _factory

    return _factory(settings)
