"""Roadster (Express Storefronts), a lead sink: ``POST /v1/customers`` and Express links."""

from app.connectors.roadster.connector import RoadsterConnector
from app.connectors.roadster.express import MEM_FIELDS, cipher_key, encrypt, express_url, mem_plaintext

__all__ = ["MEM_FIELDS", "RoadsterConnector", "cipher_key", "encrypt", "express_url", "mem_plaintext"]
