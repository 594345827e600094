"""Auterio (auterio.net), a feed sink: the dealer's stock in VIN-keyed batches of up to 1,000."""

from app.connectors.auterio.connector import AuterioConnector
from app.connectors.auterio.mapping import STATUS, removal_payload, vehicle_payload

__all__ = ["STATUS", "AuterioConnector", "removal_payload", "vehicle_payload"]
