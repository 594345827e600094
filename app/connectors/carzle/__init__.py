"""Carzle (carzle.ae), a listing sink: the connector and the rules that are Carzle's alone."""

from app.connectors.carzle.catalogue import SYNONYMS, CarzleMetadata, forget_parsed_metadata, map_enum
from app.connectors.carzle.connector import CarzleConnector
from app.connectors.carzle.mapping import DEFAULT_MAX_IMAGES, REF_SCHEMES, REQUIRED_ON_CREATE
from app.connectors.carzle.status_override import CARZLE_STATUS_RULE  # registers the rule
from app.connectors.kinds import AdoptionMatch

__all__ = [
    "CARZLE_STATUS_RULE",
    "DEFAULT_MAX_IMAGES",
    "REF_SCHEMES",
    "REQUIRED_ON_CREATE",
    "SYNONYMS",
    "AdoptionMatch",
    "CarzleConnector",
    "CarzleMetadata",
    "forget_parsed_metadata",
    "map_enum",
]
