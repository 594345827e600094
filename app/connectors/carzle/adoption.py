"""Adoption: matching listings created on Carzle's dashboard (no externalRef) to local cars.

VIN (``chassisNumber``) first, then title + year + price. A candidate that matches more than
one car (or the reverse) is left out: a wrong claim would overwrite another car's listing, so
ambiguous ones are for a human.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.connectors.carzle.mapping import as_int, clean_text
from app.connectors.carzle.responses import listing_id
from app.connectors.kinds import AdoptionMatch
from app.listings.vehicle import Vehicle
from app.text import fold


def match_orphans(
    listings: Iterable[Mapping[str, Any]], cars: Iterable[tuple[Vehicle, str]]
) -> list[AdoptionMatch]:
    """Pair ref-less listings with ``(vehicle, the externalRef it would get)`` one to one."""
    orphans = [dict(r) for r in listings if not clean_text(r.get("externalRef")) and listing_id(r)]
    cars = list(cars)
    matches: list[AdoptionMatch] = []
    used_remote: set[str] = set()
    used_local: set[str] = set()

    def pair(key_remote: Callable[[dict[str, Any]], Any], key_local: Callable[[Vehicle], Any],
             how: str) -> None:
        remote_index: dict[Any, list[dict[str, Any]]] = {}
        for listing in orphans:
            if listing_id(listing) in used_remote:
                continue
            key = key_remote(listing)
            if key is not None:
                remote_index.setdefault(key, []).append(listing)
        local_index: dict[Any, list[tuple[Vehicle, str]]] = {}
        for vehicle, ref in cars:
            if ref in used_local:
                continue
            key = key_local(vehicle)
            if key is not None:
                local_index.setdefault(key, []).append((vehicle, ref))
        for key, remotes in remote_index.items():
            locals_ = local_index.get(key, [])
            if len(remotes) != 1 or len(locals_) != 1:
                continue
            listing, (vehicle, ref) = remotes[0], locals_[0]
            remote_id = str(listing_id(listing))
            used_remote.add(remote_id)
            used_local.add(ref)
            matches.append(AdoptionMatch(remote_id, ref, vehicle.car_ref, how, listing))

    pair(lambda r: _vin(r.get("chassisNumber")), lambda v: _vin(v.vin), "vin")
    pair(
        lambda r: _title_key(r.get("title"), r.get("year"), r.get("price")),
        lambda v: _title_key(v.title, v.year, v.price),
        "title_year_price",
    )
    return matches


def _vin(value: Any) -> str | None:
    text = clean_text(value)
    return re.sub(r"\s+", "", text).upper() if text else None


def _title_key(title: Any, year: Any, price: Any) -> tuple[str, int, int] | None:
    text = clean_text(title)
    problems: dict[str, str] = {}
    year_i = as_int(year, "year", problems)
    price_i = as_int(price, "price", problems)
    if not text or year_i is None or price_i is None:
        return None
    return fold(text), year_i, price_i
