"""Carfluence (seed 000): a dealer group's inventory, read page by page as a source."""

from app.connectors.carfluence.connector import CarfluenceConnector

__all__ = ["CarfluenceConnector"]
