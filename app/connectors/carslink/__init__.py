"""Carslink (carslink.ai), a feed sink: the connector and the mapping rules that are Carslink's alone."""

from app.connectors.carslink.connector import CarslinkConnector

__all__ = ["CarslinkConnector"]
