"""Carfluence inventory: vehicles in the API's shape, their version history, filters and
offset pagination, and a deterministic generator so tests and benchmarks get N cars cheaply."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

STATUSES = ("active", "pending", "sold", "in_transit")
CONDITIONS = ("new", "used", "certified")
SOURCES = ("dms", "crm", "feed", "manual")
MAX_LIMIT = 100
DEFAULT_LIMIT = 50

# Fields a control-route change may set, with the type check applied to each.
_STR_FIELDS = (
    "stock_number", "make", "model", "trim", "body_style", "exterior_color", "interior_color",
    "transmission", "drivetrain", "fuel_type", "engine", "description", "dealer_id", "source",
)  # fmt: skip
_MODELS = {
    "Honda": [("Accord", "sedan"), ("Civic", "sedan"), ("CR-V", "suv")],
    "Toyota": [("Camry", "sedan"), ("RAV4", "suv"), ("Tacoma", "pickup")],
    "Ford": [("F-150", "pickup"), ("Escape", "suv"), ("Mustang", "coupe")],
    "Mazda": [("CX-5", "suv"), ("MX-5 Miata", "convertible"), ("Mazda3", "hatchback")],
    "BMW": [("3 Series", "sedan"), ("X5", "suv")],
    "Tesla": [("Model 3", "sedan"), ("Model Y", "suv")],
}
_COLORS = ("Black", "White", "Silver", "Gray", "Blue", "Red")
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True))}
_VIN_VALUES.update(dict(zip("JKLMN", range(1, 6), strict=True)) | {"P": 7, "R": 9})
_VIN_VALUES.update(dict(zip("STUVWXYZ", range(2, 10), strict=True)))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


class InventoryError(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def vin_with_check_digit(body: str) -> str:
    """A 17-character VIN whose 9th character is the North American check digit."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(body, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return body[:8] + ("X" if check == 10 else str(check)) + body[9:]


def money(value: Any, name: str) -> Decimal:
    """Numbers or decimal strings → Decimal with two places; the API prints them as strings."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InventoryError({name: "must be a number or a decimal string"})
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise InventoryError({name: "must be a number or a decimal string"}) from exc
    if amount < 0:
        raise InventoryError({name: "must not be negative"})
    return amount


def _today(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Vehicle:
    vin: str
    group: str  # the dealer group whose users and keys may read it
    seq: int  # insertion order: the stable sort key of /inventory
    data: dict[str, Any]  # every other API field except the derived ones
    price: Decimal
    msrp: Decimal | None
    in_stock_date: date
    created_at: float
    updated_at: float
    history: list[dict[str, Any]] = field(default_factory=list)
    removed: bool = False

    def to_json(self, now: float) -> dict[str, Any]:
        today = _today(now)
        return {
            "vin": self.vin,
            "year": self.data["year"],
            "make": self.data["make"],
            "model": self.data["model"],
            "price": str(self.price),
            "status": self.data["status"],
            "days_on_lot": max(0, (today - self.in_stock_date).days),
            **{k: v for k, v in self.data.items() if k not in ("year", "make", "model", "status")},
            "msrp": None if self.msrp is None else str(self.msrp),
            "in_stock_date": self.in_stock_date.isoformat(),
            "dealer_group": self.group,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class Inventory:
    """All vehicles of every dealer group, behind one lock. ``clock`` is the market's clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._vehicles: dict[str, Vehicle] = {}
            self._seq = 0

    # ----------------------------------------------------------------- changes

    def add(self, group: str, fields: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            vin = fields.get("vin")
            if not isinstance(vin, str) or len(vin) != 17:
                raise InventoryError({"vin": "must be a 17-character string"})
            vin = vin.upper()
            existing = self._vehicles.get(vin)
            if existing is not None and not existing.removed:
                raise InventoryError({"vin": "already in inventory"})
            base = {"status": "active", "condition": "used", "source": "dms", "mileage": 0, "photos": []}
            data, price, msrp, stock_date = self._checked({**base, **fields}, _today(now))
            self._seq += 1
            vehicle = Vehicle(vin, group, self._seq, data, price, msrp, stock_date, now, now)
            if existing is not None:  # a removed car comes back: same history, new place in order
                vehicle.history = existing.history
                del self._vehicles[vin]
            self._vehicles[vin] = vehicle  # dict order is feed order (seq), so reads never sort
            self._log(vehicle, "restored" if existing is not None else "created", sorted(data) + ["price"], now)
            return vehicle.to_json(now)

    def change(self, vin: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        now = self._clock()
        with self._lock:
            vehicle = self._live(vin)
            if vehicle is None:
                return None
            merged = {**vehicle.data, "price": vehicle.price, "msrp": vehicle.msrp}
            merged["in_stock_date"] = vehicle.in_stock_date.isoformat()
            merged.update(fields)
            data, price, msrp, stock_date = self._checked(merged, _today(now))
            before = vehicle.to_json(now)
            vehicle.data, vehicle.price, vehicle.msrp, vehicle.in_stock_date = data, price, msrp, stock_date
            vehicle.updated_at = max(now, vehicle.updated_at + 0.001)
            after = vehicle.to_json(now)
            changed = sorted(k for k in after if k not in ("updated_at",) and after[k] != before[k])
            self._log(vehicle, "updated", changed, now)
            return after

    def remove(self, vin: str) -> bool:
        now = self._clock()
        with self._lock:
            vehicle = self._live(vin)
            if vehicle is None:
                return False
            vehicle.removed = True
            self._log(vehicle, "removed", [], now)
            return True

    def generate(self, group: str, count: int, seed: int, *, dealer_id: str | None = None) -> list[str]:
        """Add ``count`` plausible vehicles; the same (seed, count) gives the same cars."""
        rng = random.Random(f"carfluence:{seed}")
        today = _today(self._clock())
        vins = []
        for i in range(count):
            make = rng.choice(sorted(_MODELS))
            model, body = rng.choice(_MODELS[make])
            year = rng.randint(today.year - 8, today.year + 1)
            condition = "new" if year >= today.year else rng.choice(("used", "used", "certified"))
            price = rng.randrange(12_000, 85_000, 250) + rng.choice((0, 0.99, 0.5))
            vin = vin_with_check_digit("".join(rng.choice(_VIN_CHARS) for _ in range(17)))
            if vin in self._vehicles:
                continue
            stock_date = date.fromordinal(today.toordinal() - rng.randint(0, 120))
            self.add(
                group,
                {
                    "vin": vin,
                    "stock_number": f"S{seed % 1000:03d}{i:05d}",
                    "year": year,
                    "make": make,
                    "model": model,
                    "trim": rng.choice(("Base", "Sport", "Limited", "Touring")),
                    "body_style": body,
                    "condition": condition,
                    "mileage": 0 if condition == "new" else rng.randint(3_000, 140_000),
                    "exterior_color": rng.choice(_COLORS),
                    "transmission": rng.choice(("automatic", "automatic", "manual")),
                    "price": price,
                    "status": rng.choice(("active",) * 8 + ("pending", "in_transit")),
                    "in_stock_date": stock_date.isoformat(),
                    "dealer_id": dealer_id or f"{group}-main",
                    "source": rng.choice(SOURCES),
                    "photos": [f"https://img.carfluence.sandbox/{vin}/{n}.jpg" for n in range(rng.randint(1, 4))],
                },
            )
            vins.append(vin)
        return vins

    def churn(self, group: str | None, seed: int, *, change: int = 0, remove: int = 0) -> dict[str, list[str]]:
        """Reprice ``change`` and remove ``remove`` distinct live vehicles, chosen by ``seed``."""
        rng = random.Random(f"carfluence-churn:{seed}")
        with self._lock:
            live = sorted(v.vin for v in self._vehicles.values() if not v.removed and group in (None, v.group))
            picked = rng.sample(live, min(len(live), change + remove))
            changed, removed = picked[:change], picked[change:]
            for vin in changed:
                vehicle = self._vehicles[vin]
                self.change(vin, {"price": vehicle.price - rng.choice((250, 500, 1000))})
            for vin in removed:
                self.remove(vin)
            return {"changed": changed, "removed": removed}

    # ----------------------------------------------------------------- reads

    def get(self, vin: str, groups: set[str] | None) -> dict[str, Any] | None:
        with self._lock:
            vehicle = self._live(vin)
            if vehicle is None or (groups is not None and vehicle.group not in groups):
                return None
            return vehicle.to_json(self._clock())

    def history(self, vin: str, groups: set[str] | None) -> list[dict[str, Any]] | None:
        with self._lock:
            vehicle = self._vehicles.get(vin.upper())
            if vehicle is None or (groups is not None and vehicle.group not in groups):
                return None
            return [dict(h) for h in vehicle.history]

    def dump(self, group: str | None = None, *, include_removed: bool = False) -> list[dict[str, Any]]:
        now = self._clock()
        with self._lock:
            rows = list(self._vehicles.values())
            return [
                dict(v.to_json(now), removed=v.removed)
                for v in rows
                if (include_removed or not v.removed) and group in (None, v.group)
            ]

    def query(self, groups: set[str] | None, args: dict[str, str]) -> tuple[list[dict[str, Any]], int, int, int]:
        """(page of vehicles, total matching, limit, offset), or ``InventoryError`` (→ 422)."""
        errors: dict[str, str] = {}
        limit = _int_arg(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, errors)
        offset = _int_arg(args, "offset", 0, 0, None, errors)
        year_min = _int_arg(args, "year_min", 0, 0, None, errors)
        year_max = _int_arg(args, "year_max", 10_000, 0, None, errors)
        price_min = _money_arg(args, "price_min", errors)
        price_max = _money_arg(args, "price_max", errors)
        statuses = _enum_list(args, "status", STATUSES, errors)
        conditions = _enum_list(args, "condition", CONDITIONS, errors)
        since = _time_arg(args, "updated_since", errors)
        if errors:
            raise InventoryError(errors)
        text = {
            k: args[k].strip().lower() for k in ("make", "model", "source", "dealer_id", "dealer_group") if k in args
        }
        now = self._clock()
        with self._lock:
            rows = []
            for v in self._vehicles.values():
                if v.removed or (groups is not None and v.group not in groups):
                    continue
                fields = {**v.data, "dealer_group": v.group}
                if any(str(fields.get(k) or "").lower() != want for k, want in text.items()):
                    continue
                if not year_min <= v.data["year"] <= year_max:
                    continue
                if (price_min is not None and v.price < price_min) or (price_max is not None and v.price > price_max):
                    continue
                if (statuses and v.data["status"] not in statuses) or (
                    conditions and v.data["condition"] not in conditions
                ):
                    continue
                if since is not None and v.updated_at < since:
                    continue
                rows.append(v)
            page = [v.to_json(now) for v in rows[offset : offset + limit]]
            return page, len(rows), limit, offset

    # ----------------------------------------------------------------- internals

    def _live(self, vin: str) -> Vehicle | None:
        vehicle = self._vehicles.get(vin.upper())
        return None if vehicle is None or vehicle.removed else vehicle

    def _log(self, vehicle: Vehicle, event: str, changed: list[str], now: float) -> None:
        vehicle.history.append(
            {
                "version": len(vehicle.history) + 1,
                "event": event,
                "at": iso(now),
                "changed_fields": changed,
                "vehicle": None if event == "removed" else vehicle.to_json(now),
            }
        )

    @staticmethod
    def _checked(fields: dict[str, Any], today: date) -> tuple[dict[str, Any], Decimal, Decimal | None, date]:
        errors: dict[str, str] = {}
        data: dict[str, Any] = {}
        for name, value in fields.items():
            if name in ("vin", "price", "msrp", "in_stock_date", "days_on_lot", "dealer_group"):
                continue
            if name in _STR_FIELDS:
                if value is not None and not isinstance(value, str):
                    errors[name] = "must be a string"
            elif name in ("year", "mileage"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    errors[name] = "must be a non-negative integer"
            elif name == "status" and value not in STATUSES:
                errors[name] = "must be one of: " + ", ".join(STATUSES)
            elif name == "condition" and value not in CONDITIONS:
                errors[name] = "must be one of: " + ", ".join(CONDITIONS)
            elif name == "photos" and (not isinstance(value, list) or not all(isinstance(p, str) for p in value)):
                errors[name] = "must be an array of URLs"
            elif name in ("created_at", "updated_at", "removed"):
                errors[name] = "is read-only"
            elif name not in ("status", "condition", "photos"):
                errors[name] = "unknown field"
            data[name] = value
        for name in ("year", "make", "model", "price"):
            if fields.get(name) is None:
                errors[name] = "is required"
        price = msrp = None
        try:
            price = money(fields.get("price", 0), "price")
            msrp = None if fields.get("msrp") is None else money(fields["msrp"], "msrp")
        except InventoryError as exc:
            errors.update(exc.fields)
        stock_date = today
        raw_date = fields.get("in_stock_date")
        if raw_date is not None:
            try:
                stock_date = date.fromisoformat(str(raw_date))
            except ValueError:
                errors["in_stock_date"] = "must be YYYY-MM-DD"
        if errors:
            raise InventoryError(errors)
        assert price is not None
        return data, price, msrp, stock_date


def _int_arg(args: dict[str, str], name: str, default: int, lo: int, hi: int | None, errors: dict[str, str]) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = "must be an integer"
        return default
    if value < lo or (hi is not None and value > hi):
        errors[name] = f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}"
    return value


def _money_arg(args: dict[str, str], name: str, errors: dict[str, str]) -> Decimal | None:
    if name not in args:
        return None
    try:
        return money(args[name], name)
    except InventoryError as exc:
        errors.update(exc.fields)
        return None


def _enum_list(args: dict[str, str], name: str, allowed: tuple[str, ...], errors: dict[str, str]) -> set[str]:
    if name not in args:
        return set()
    values = {v.strip() for v in args[name].split(",") if v.strip()}
    if not values or values - set(allowed):
        errors[name] = "must be one or more of: " + ", ".join(allowed)
    return values


def _time_arg(args: dict[str, str], name: str, errors: dict[str, str]) -> float | None:
    if name not in args:
        return None
    try:
        parsed = datetime.fromisoformat(args[name].replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        errors[name] = "must be an ISO 8601 time with a zone"
        return None
    return parsed.timestamp()
