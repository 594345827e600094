"""Merge by VIN: when several sources describe one car, a per-site config picks each field's
winner, and the result is the car's canonical vehicle.

Sites file (``[sites.merge]``)::

    order = ["wordpress", "carfluence"]      # who wins a field nobody names (first with a value)
    [sites.merge.fields]
    price = ["carfluence"]                    # these first, then ``order``
    kilometers = "newest"                     # the most recently delivered value

The **default order** is ``wordpress``, ``dms``, then pulled sources by name: the dealer's own
site first, the DMS next, aggregators last. Sources a list leaves out still fill fields the
listed ones lack, in default order, so a car is never sent with less than its sources know.
With ``fallback = false``, a field comes only from the sources its rule or ``order`` names
("price from Carfluence, everything else from WordPress" means exactly that). A source that
removed the car (trash, a removal, a vanished vehicle) drops out; the car is deleted only
when no source still has it (then the others fill in, whatever ``fallback`` says). With one
source nothing is merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from app.listings.statuses import ListingStatus
from app.listings.vehicle import Vehicle

DEFAULT_ORDER = ("wordpress", "dms")
NEWEST = "newest"
# Identity and bookkeeping fields are not merged: the car keeps its own.
NOT_MERGED = frozenset({"source", "car_ref", "warnings", "modified_at", "post_id"})
MERGED_FIELDS = tuple(f.name for f in fields(Vehicle) if f.name not in NOT_MERGED and f.name != "status")
STATUS = "status"


class Version(Protocol):
    source: str
    vehicle: dict[str, Any]
    status: str | None
    removed: bool
    modified_at: datetime | None
    received_at: datetime


@dataclass
class Merged:
    vehicle: dict[str, Any]
    status: str | None
    sources: dict[str, str]  # field → the source whose value won


def default_order(sources: list[str]) -> list[str]:
    known = [s for s in DEFAULT_ORDER if s in sources]
    return known + sorted(s for s in sources if s not in DEFAULT_ORDER)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _when(version: Version) -> datetime:
    return version.modified_at or version.received_at


def merge(versions: Mapping[str, Version], config: Mapping[str, Any] | None) -> Merged:
    """Each field from the first live source (in the field's order) that has a value."""
    config = config or {}
    live = {name: v for name, v in versions.items() if not v.removed}
    if not live:
        latest = max(versions.values(), key=lambda v: v.received_at)
        return Merged(dict(latest.vehicle), ListingStatus.DELETED, {})
    base = [s for s in config.get("order") or [] if s in live]
    if config.get("fallback", True) or not base:
        base += [s for s in default_order(list(live)) if s not in base]
    chosen: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in (*MERGED_FIELDS, STATUS):
        rule = (config.get("fields") or {}).get(name)
        if rule == NEWEST:
            order = [v.source for v in sorted(live.values(), key=_when, reverse=True)]
        elif isinstance(rule, list):
            order = [s for s in rule if s in live] + [s for s in base if s not in rule]
        else:
            order = base
        for source in order:
            version = live[source]
            value = version.status if name == STATUS else version.vehicle.get(name)
            if not _empty(value):
                chosen[name], sources[name] = value, source
                break
    status = chosen.pop(STATUS, None)
    vehicle = {name: chosen.get(name) for name in MERGED_FIELDS}
    for name in ("features", "images"):
        vehicle[name] = vehicle[name] or []
    first = live[base[0]].vehicle
    vehicle.update({k: first.get(k) for k in NOT_MERGED if k in first})
    vehicle["warnings"] = [w for v in live.values() for w in v.vehicle.get("warnings") or []]
    vehicle["status"] = status
    return Merged(vehicle, status, sources)


def config_problems(config: Any) -> dict[str, str]:
    """Sites-file validation of ``merge``, keyed by the offending key."""
    if not isinstance(config, Mapping):
        return {"merge": "must be a table with `order` and/or `fields`"}
    problems: dict[str, str] = {}
    for key in config:
        if key not in ("order", "fields", "fallback"):
            problems[f"merge.{key}"] = "unknown key (use order, fields, fallback)"
    if not isinstance(config.get("fallback", True), bool):
        problems["merge.fallback"] = "must be true or false"
    order = config.get("order", [])
    if not isinstance(order, list) or not all(isinstance(s, str) and s for s in order):
        problems["merge.order"] = "must be a list of source names (wordpress, dms, carfluence, …)"
    per_field = config.get("fields", {})
    if not isinstance(per_field, Mapping):
        problems["merge.fields"] = "must be a table of field = [sources] or \"newest\""
        return problems
    for name, rule in per_field.items():
        if name not in (*MERGED_FIELDS, STATUS):
            problems[f"merge.fields.{name}"] = "not a vehicle field"
        elif rule != NEWEST and not (isinstance(rule, list) and all(isinstance(s, str) and s for s in rule)):
            problems[f"merge.fields.{name}"] = "must be a list of source names or \"newest\""
    return problems


def field_sources(site_options: Mapping[str, Any] | None, car_id: int) -> dict[str, str]:
    """Which source each field of the car came from (the car status API's ``fieldSources``);
    with one source, every field it has is that source's."""
    from app.listings.history import latest_versions

    versions = latest_versions(car_id)
    if not versions:
        return {}
    if len(versions) == 1:
        (name, version), = versions.items()
        return {k: name for k, v in version.vehicle.items() if k in MERGED_FIELDS and not _empty(v)}
    return merge(versions, (site_options or {}).get("merge")).sources
