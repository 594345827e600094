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



def generate(market: Any, count: int, seed_value: int) -> list[str]:
    """Generated cars without photos: the generator's photo host does not resolve, and photo
    fetching is not what these tests are about."""
    vins = market.inventory.generate(GROUP, count, seed_value)
    for vin in vins:
        market.inventory.change(vin, {"photos": []})
    return vins
