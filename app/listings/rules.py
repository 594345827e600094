"""Per-site transformation rules, applied to the canonical vehicle before a destination maps it.

Sites file (``[[sites.rules]]``, applied in order; ``destinations`` limits a rule to some
marketplaces, absent = every destination)::

    [[sites.rules]]
    action = "round_price"         # to = 100 (default), mode = "nearest" | "down" | "up" | "ninety_nine"
    to = 100
    [[sites.rules]]
    action = "title_suffix"        # text appended to the title (built from year make model trim if none)
    text = " | Smith Motors"
    destinations = ["carzle"]
    [[sites.rules]]
    action = "make_alias"          # aliases = {"VW" = "Volkswagen"}, matched case- and accent-insensitively
    aliases = {VW = "Volkswagen"}
    [[sites.rules]]
    action = "drop"                # field = "description": never sent to these destinations
    field = "description"
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from app.listings.vehicle import Vehicle
from app.text import fold

ROUNDING = ("nearest", "down", "up", "ninety_nine")
KEPT = frozenset({"source", "car_ref", "status", "vin"})  # a car without these is not one
DROPPABLE = tuple(f.name for f in fields(Vehicle) if f.name not in KEPT)


def _round_price(vehicle: Vehicle, rule: Mapping[str, Any]) -> None:
    if vehicle.price is None:
        return
    step = int(rule.get("to", 100))
    mode = rule.get("mode", "nearest")
    if mode == "ninety_nine":  # 25_340 → 25_399 with to = 100: the next price point ending in 99
        vehicle.price = math.ceil((vehicle.price + 1) / step) * step - 1
    elif mode == "down":
        vehicle.price = vehicle.price // step * step
    elif mode == "up":
        vehicle.price = math.ceil(vehicle.price / step) * step
    else:
        vehicle.price = int(math.floor(vehicle.price / step + 0.5)) * step


def _title_suffix(vehicle: Vehicle, rule: Mapping[str, Any]) -> None:
    text = str(rule["text"])
    title = vehicle.title or " ".join(str(p) for p in (vehicle.year, vehicle.make, vehicle.model, vehicle.trim) if p)
    if title and not title.endswith(text):
        vehicle.title = title + text


def _make_alias(vehicle: Vehicle, rule: Mapping[str, Any]) -> None:
    if not vehicle.make:
        return
    aliases = {fold(k): v for k, v in (rule.get("aliases") or {}).items()}
    vehicle.make = aliases.get(fold(vehicle.make), vehicle.make)


def _drop(vehicle: Vehicle, rule: Mapping[str, Any]) -> None:
    name = rule["field"]
    setattr(vehicle, name, [] if name in ("features", "images", "warnings") else None)


ACTIONS: dict[str, Callable[[Vehicle, Mapping[str, Any]], None]] = {
    "round_price": _round_price,
    "title_suffix": _title_suffix,
    "make_alias": _make_alias,
    "drop": _drop,
}


def applies(rule: Mapping[str, Any], marketplace: str | None) -> bool:
    wanted = rule.get("destinations")
    return not wanted or marketplace in wanted


def apply_rules(vehicle: Vehicle, rules: Sequence[Mapping[str, Any]] | None, marketplace: str | None) -> list[str]:
    """Change ``vehicle`` in place by the rules for this destination; returns the rules applied."""
    applied = []
    for rule in rules or []:
        if applies(rule, marketplace):
            ACTIONS[rule["action"]](vehicle, rule)
            applied.append(describe(rule))
    return applied


def describe(rule: Mapping[str, Any]) -> str:
    details = ", ".join(f"{k}={v!r}" for k, v in rule.items() if k not in ("action", "destinations"))
    return f"{rule['action']}({details})"


def config_problems(rules: Any) -> dict[str, str]:
    """Sites-file validation of ``rules``, keyed ``rules[i].key``."""
    if not isinstance(rules, list):
        return {"rules": "must be a list of [[sites.rules]] tables"}
    problems: dict[str, str] = {}
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, Mapping) or rule.get("action") not in ACTIONS:
            problems[f"{where}.action"] = f"must be one of: {', '.join(ACTIONS)}"
            continue
        action = rule["action"]
        dests = rule.get("destinations", [])
        if not isinstance(dests, list) or not all(isinstance(d, str) for d in dests):
            problems[f"{where}.destinations"] = "must be a list of marketplace names"
        if action == "round_price":
            step = rule.get("to", 100)
            if isinstance(step, bool) or not isinstance(step, int) or step < 1:
                problems[f"{where}.to"] = "must be a positive integer"
            if rule.get("mode", "nearest") not in ROUNDING:
                problems[f"{where}.mode"] = f"must be one of: {', '.join(ROUNDING)}"
        elif action == "title_suffix" and not (isinstance(rule.get("text"), str) and rule["text"]):
            problems[f"{where}.text"] = "must be a non-empty string"
        elif action == "make_alias":
            aliases = rule.get("aliases")
            if not isinstance(aliases, Mapping) or not all(isinstance(v, str) and v for v in aliases.values()):
                problems[f"{where}.aliases"] = "must be a table like {VW = \"Volkswagen\"}"
        elif action == "drop" and rule.get("field") not in DROPPABLE:
            problems[f"{where}.field"] = "must be a vehicle field other than " + ", ".join(sorted(KEPT))
    return problems
