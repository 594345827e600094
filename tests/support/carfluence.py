"""Carfluence sandbox set-up shared by connector, source and end-to-end tests."""

from __future__ import annotations

from typing import Any

EMAIL, PASSWORD = "ops@northgroup.example", "s3cret-pass"
KEY = "cf_live_northgroup_read"
GROUP = "north"
HONDA = "1HGCM82633A004352"


def seed(market: Any, *, vehicles: int = 0, seed_value: int = 7) -> list[str]:
    """A login and a scoped key for group ``north``, and ``vehicles`` generated cars."""
    market.add_user(EMAIL, PASSWORD, [GROUP])
    market.add_key(KEY, GROUP, ["inventory:read"])
    return market.inventory.generate(GROUP, vehicles, seed_value) if vehicles else []

