"""Auterio DMS ingest API (seed 004): ``POST /auterio/api/vehicles/ingest``.

Vehicles are upserted by VIN into the stock of the key's account. By default invalid
vehicles are skipped and reported while the valid ones are written together (all or none);
with the ``auterio_atomic_batches`` setting one invalid vehicle refuses the whole batch.
Every decision the seed leaves open is in ``sandbox/README.md``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, deque
from datetime import date
from typing import Any

from flask import Response, jsonify, request

from sandbox.clock import SandboxClock, iso
from sandbox.common import ControlRoute, SandboxSettings
from sandbox.feeds import FeedMarketplace

MAX_VEHICLES = 1000
STATUSES = ("disponible", "reservado", "vendido", "transito", "baja")
DEFAULT_STATUS = "disponible"
FIRST_YEAR = 1900
INVALID = "Invalid payload or no valid vehicles"
MISSING_HEADER = "Missing or invalid Authorization header"
BAD_KEY = "API key is invalid or inactive"
INGEST_HISTORY = 200

STRING_FIELDS = (
    "matricula",
    "version",
    "color_ext",
    "color_int",
    "fuel_type",
    "gearbox",
    "location",
    "supplier",
    "propiedad",
    "categoria",
    "notes",
)
# name → (minimum, maximum or None)
INTEGER_FIELDS: dict[str, tuple[int, int | None]] = {
    "mileage": (0, None),
    "engine_cc": (0, None),
    "power_hp": (0, None),
    "doors": (0, 10),
    "seats": (0, 100),
}
NUMBER_FIELDS = ("cost_price", "sale_price")
KNOWN_FIELDS = frozenset(
    {"vin", "brand", "model", "year", "status", "fecha_matricula", *STRING_FIELDS, *INTEGER_FIELDS, *NUMBER_FIELDS}
)
_VIN_RE = re.compile(r"^[A-Z0-9]{1,17}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_vehicle(item: Any, today: date) -> tuple[dict[str, Any] | None, list[str]]:
    """(the fields to write, problems). Strict JSON types: numeric strings are not numbers."""
    if not isinstance(item, dict):
        return None, ["vehicle must be an object"]
    problems: list[str] = []
    out: dict[str, Any] = {}
    vin = item.get("vin")
    if vin is None or (isinstance(vin, str) and not vin.strip()):
        problems.append("vin is required")
    elif not isinstance(vin, str) or not _VIN_RE.match(vin.strip().upper()):
        problems.append("vin must be 1 to 17 letters and digits")
    else:
        out["vin"] = vin.strip().upper()
    for name in ("brand", "model"):
        value = item.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(f"{name} is required")
        elif not isinstance(value, str):
            problems.append(f"{name} must be a string")
        else:
            out[name] = value.strip()
    for name in STRING_FIELDS:
        if name in item:
            value = item[name]
            if value is not None and not isinstance(value, str):
                problems.append(f"{name} must be a string")
            else:
                out[name] = value.strip() if isinstance(value, str) and value.strip() else None
    if "year" in item and item["year"] is not None:
        year = item["year"]
        if not _is_int(year):
            problems.append("year must be an integer")
        elif not FIRST_YEAR <= year <= today.year + 1:
            problems.append(f"year must be between {FIRST_YEAR} and {today.year + 1}")
        else:
            out["year"] = year
    elif "year" in item:
        out["year"] = None
    for name, (low, high) in INTEGER_FIELDS.items():
        if name not in item:
            continue
        value = item[name]
        if value is not None and not _is_int(value):
            problems.append(f"{name} must be an integer")
        elif value is not None and (value < low or (high is not None and value > high)):
            problems.append(f"{name} must be between {low} and {high}" if high else f"{name} must be {low} or greater")
        else:
            out[name] = value
    for name in NUMBER_FIELDS:
        if name not in item:
            continue
        value = item[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{name} must be a number")
        elif value is not None and (not math.isfinite(value) or value < 0):
            problems.append(f"{name} must be 0 or greater")
        else:
            out[name] = value
    status = item.get("status")
    if status is None:
        out["status"] = DEFAULT_STATUS
    elif isinstance(status, str) and status.strip().lower() in STATUSES:
        out["status"] = status.strip().lower()
    else:
        problems.append(f"status must be one of: {', '.join(STATUSES)}")
    if "fecha_matricula" in item and item["fecha_matricula"] is not None:
        raw = item["fecha_matricula"]
        parsed = _parse_date(raw)
        if parsed is None:
            problems.append("fecha_matricula must be a date (YYYY-MM-DD)")
        elif parsed > today:
            problems.append("fecha_matricula must not be in the future")
        else:
            out["fecha_matricula"] = raw
    elif "fecha_matricula" in item:
        out["fecha_matricula"] = None
    return (None if problems else out), problems


def _parse_date(raw: Any) -> date | None:
    if not isinstance(raw, str) or not _DATE_RE.match(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _vin_hint(item: Any) -> str | None:
    vin = item.get("vin") if isinstance(item, dict) else None
    return vin.strip().upper() if isinstance(vin, str) and vin.strip() else None


class AuterioSandbox(FeedMarketplace):
    name = "auterio"
    url_prefix = "/auterio/api"
    default_account = "demo"
    default_key_name = "Sandbox DMS"

    def __init__(self, settings: SandboxSettings, *, clock: SandboxClock | None = None) -> None:
        super().__init__(settings, settings.auterio_keys, clock=clock)

    # ----------------------------------------------------------------- hooks

    def reset_data(self) -> None:
        self.stock: dict[str, dict[str, dict[str, Any]]] = {}  # account → VIN → vehicle
        self.ingests: deque[dict[str, Any]] = deque(maxlen=INGEST_HISTORY)

    def credential(self) -> tuple[str | None, str | None]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None, MISSING_HEADER
        return token, None

    def invalid_key_message(self) -> str:
        return BAD_KEY

    def error_response(self, status: int, message: str, **extra: Any) -> Response:
        resp = jsonify({"success": False, "error": message, **extra})
        resp.status_code = status
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="auterio"'
        return resp

    def api_routes(self) -> list[ControlRoute]:
        return [("/vehicles/ingest", "ingest", self._ingest, ["POST"])]

    # ----------------------------------------------------------------- the endpoint

    def _ingest(self) -> Response:
        key = self.keys[self.current_key()]
        vehicles, problem = self._vehicles(request.get_data())
        if problem is not None:
            return self._refuse(key.key, len(vehicles), [{"index": None, "vin": None, "error": problem}])
        today = self.clock.now().date()
        valid: list[tuple[int, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(vehicles):
            clean, problems = validate_vehicle(item, today)
            if clean is None:
                errors.append({"index": index, "vin": _vin_hint(item), "error": "; ".join(problems)})
            else:
                valid.append((index, clean))
        if not valid:
            return self._refuse(key.key, len(vehicles), errors)
        if errors and self.settings.auterio_atomic_batches:
            # The worst case for a client: refused, and not told which vehicle is at fault.
            return self._refuse(key.key, len(vehicles), None, detail=errors)
        with self._lock:
            created, updated = self._upsert(key.key, valid, vehicles)
            self._record(key.key, key.account, len(vehicles), created, updated, errors)
        failure = self.after_commit_fault()
        if failure is not None:
            return failure
        body: dict[str, Any] = {"success": True, "imported": len(valid), "skipped": len(errors), "source": key.name}
        if errors:
            body["errors"] = errors
        return jsonify(body)

    @staticmethod
    def _vehicles(raw: bytes) -> tuple[list[Any], str | None]:
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            return [], "body is not valid JSON"
        if not isinstance(body, dict):
            return [], "body must be a JSON object with a vehicles array"
        vehicles = body.get("vehicles")
        if not isinstance(vehicles, list):
            return [], "vehicles must be an array"
        if not vehicles:
            return [], "vehicles must contain at least one vehicle"
        if len(vehicles) > MAX_VEHICLES:
            return [], f"at most {MAX_VEHICLES} vehicles per request (received {len(vehicles)})"
        return vehicles, None

    def _refuse(
        self,
        key: str,
        received: int,
        errors: list[dict[str, Any]] | None,
        *,
        detail: list[dict[str, Any]] | None = None,
    ) -> Response:
        """400 with the documented message; ``detail`` is what the state dump records when the
        response itself names no vehicle."""
        with self._lock:
            self.counters_for(key).events["batches_refused"] += 1
            self._record(key, self.keys[key].account, received, 0, 0, errors or detail or [], refused=True)
        return self.error_response(400, INVALID, **({"errors": errors} if errors is not None else {}))

    def _upsert(self, key: str, valid: list[tuple[int, dict[str, Any]]], raw: list[Any]) -> tuple[int, int]:
        stock = self.stock.setdefault(self.keys[key].account, {})
        now = iso(self.clock.now())
        created = updated = 0
        for index, clean in valid:
            existing = stock.get(clean["vin"])
            ignored = sorted(k for k in raw[index] if k not in KNOWN_FIELDS)
            if existing is None:
                created += 1
                stock[clean["vin"]] = {**clean, "created_at": now, "updated_at": now, "ignored_fields": ignored}
            else:
                updated += 1
                existing.update(clean)
                existing.update({"updated_at": now, "ignored_fields": ignored})
        events = self.counters_for(key).events
        events["vehicles_created"] += created
        events["vehicles_updated"] += updated
        return created, updated

    def _record(
        self,
        key: str,
        account: str,
        received: int,
        created: int,
        updated: int,
        errors: list[dict[str, Any]],
        *,
        refused: bool = False,
    ) -> None:
        events = self.counters_for(key).events
        events["batches"] += 1
        events["vehicles_skipped"] += len(errors)
        self.ingests.append(
            {
                "at": iso(self.clock.now()),
                "account": account,
                "key": key,
                "refused": refused,
                "received": received,
                "created": created,
                "updated": updated,
                "errors": errors,
            }
        )

    # ----------------------------------------------------------------- state dump

    def state(self, args: dict[str, str]) -> dict[str, Any]:
        """Every account's stock (sorted by VIN) with status counts, and recent ingests;
        ``?account=`` and ``?vin=`` narrow it."""
        want_account, want_vin = args.get("account"), (args.get("vin") or "").upper() or None
        accounts: dict[str, Any] = {}
        for account, stock in self.stock.items():
            if want_account is not None and account != want_account:
                continue
            vehicles = [stock[v] for v in sorted(stock) if want_vin is None or v == want_vin]
            accounts[account] = {
                "vehicles": vehicles,
                "count": len(stock),
                "statuses": dict(Counter(v["status"] for v in stock.values())),
            }
        ingests = [i for i in self.ingests if want_account is None or i["account"] == want_account]
        return {"now": iso(self.clock.now()), "accounts": accounts, "ingests": ingests}
