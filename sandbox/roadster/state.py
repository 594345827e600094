"""Roadster's state: dealers (with their Express cipher keys), partner API keys, customers,
and who arrived on a storefront. No Flask here; ``sandbox.roadster.http`` exposes it."""

from __future__ import annotations

import base64
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.roadster.crypto import parse_cipher_key

FIRST_CUSTOMER_ID = 1650260  # the docs' example id; ids count up from there
FIRST_DPID = 1001
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class RoadsterError(Exception):
    """Answered as ``{"status": "error", "error": message}``, the documented error shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Dealer:
    dpid: str
    slug: str
    name: str
    partner_id: str | None = None
    cipher_key: str | None = None  # the Base64 text Roadster hands the partner

    def to_json(self) -> dict[str, Any]:
        return {
            "dpid": self.dpid,
            "slug": self.slug,
            "name": self.name,
            "partnerId": self.partner_id,
            "encryptionKey": self.cipher_key,
            "storefrontPath": f"/roadster/stores/{self.slug}",
        }


@dataclass
class PartnerKey:
    key: str
    partner: str
    dealer: str | None  # dpid used when a request names no (registered) dealer
    revoked: bool = False


@dataclass
class Customer:
    id: int
    dpid: str
    email: str  # as first given; matched case-insensitively
    first_name: str | None
    last_name: str | None
    phone: str | None
    partner_id: str | None
    created_at: str
    created_via: str  # "api" or "express"
    submissions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_cipher_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class RoadsterState:
    """Everything behind one lock; every public method is safe to call from request threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.dealers: dict[str, Dealer] = {}  # by dpid
            self.keys: dict[str, PartnerKey] = {}
            self.customers: dict[int, Customer] = {}
            self.arrivals: list[dict[str, Any]] = []
            self._next_customer = FIRST_CUSTOMER_ID
            self._next_dpid = FIRST_DPID

    # ----------------------------------------------------------------- dealers and keys

    def add_dealer(
        self,
        slug: str,
        name: str | None = None,
        *,
        dpid: str | None = None,
        partner_id: str | None = None,
        cipher_key: str | None = None,
    ) -> Dealer:
        """Create dealer ``slug`` or update the given attributes of the existing one."""
        if not _SLUG.match(slug):
            raise ValueError("slug must be lowercase letters, digits and dashes")
        if cipher_key is not None:
            parse_cipher_key(cipher_key)  # raises ValueError on a bad key
        with self._lock:
            dealer = self.find_dealer(slug)
            if dealer is None:
                if dpid is None:
                    dpid = str(self._next_dpid)
                    self._next_dpid += 1
                if dpid in self.dealers:
                    raise ValueError(f"dpid {dpid} is taken")
                dealer = Dealer(dpid, slug, name or slug.replace("-", " ").title())
                self.dealers[dpid] = dealer
            elif name:
                dealer.name = name
            if partner_id is not None:
                dealer.partner_id = partner_id
            if cipher_key is not None:
                dealer.cipher_key = cipher_key
            return dealer

    def find_dealer(self, ref: str) -> Dealer | None:
        """By dpid or slug."""
        with self._lock:
            if ref in self.dealers:
                return self.dealers[ref]
            return next((d for d in self.dealers.values() if d.slug == ref), None)

    def dealer_by_partner_id(self, partner_id: str) -> Dealer | None:
        with self._lock:
            return next((d for d in self.dealers.values() if d.partner_id == partner_id), None)

    def add_key(self, key: str | None, partner: str, dealer: str | None) -> PartnerKey:
        with self._lock:
            dpid = None
            if dealer:
                dpid = (self.find_dealer(dealer) or self.add_dealer(dealer)).dpid
            record = PartnerKey(key or "rd_" + secrets.token_hex(12), partner, dpid)
            self.keys[record.key] = record
            return record

    def key_json(self, record: PartnerKey) -> dict[str, Any]:
        dealer = self.dealers.get(record.dealer) if record.dealer else None
        return {
            "key": record.key,
            "partner": record.partner,
            "dealer": dealer.slug if dealer else None,
            "revoked": record.revoked,
        }

    # ----------------------------------------------------------------- customers

    def upsert_customer(
        self, dealer: Dealer, person: dict[str, Any], *, via: str, extra: dict[str, Any]
    ) -> tuple[Customer, bool]:
        """Find the dealer's customer with this email (case-insensitive) or create one.

        A duplicate keeps the stored name and phone (Roadster's record of the shopper is the
        first one); every submission is appended so the state dump shows them all.
        """
        email = person["email"].strip()
        with self._lock:
            existing = next(
                (c for c in self.customers.values() if c.dpid == dealer.dpid and c.email.lower() == email.lower()),
                None,
            )
            duplicate = existing is not None
            if existing is None:
                existing = Customer(
                    id=self._next_customer,
                    dpid=dealer.dpid,
                    email=email,
                    first_name=person.get("first_name"),
                    last_name=person.get("last_name"),
                    phone=person.get("phone"),
                    partner_id=person.get("partner_id"),
                    created_at=_now(),
                    created_via=via,
                )
                self._next_customer += 1
                self.customers[existing.id] = existing
            existing.submissions.append({"at": _now(), "via": via, "duplicate": duplicate, **extra})
            return existing, duplicate

    def customers_by_dealer(self, dealer: str | None = None) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            out: dict[str, list[dict[str, Any]]] = {}
            for d in self.dealers.values():
                if dealer is None or dealer in (d.dpid, d.slug):
                    out[d.slug] = [c.to_json() for c in self.customers.values() if c.dpid == d.dpid]
            return out

    def record_arrival(self, arrival: dict[str, Any]) -> None:
        with self._lock:
            self.arrivals.append(dict(arrival, at=_now()))

    # ----------------------------------------------------------------- request validation

    def resolve_dealer(self, body: dict[str, Any], key: PartnerKey) -> tuple[Dealer, str | None]:
        """(dealer, partner dealer id stored as data). Rules in ``sandbox/README.md``."""
        raw = body.get("dealer")
        if raw is None:
            if key.dealer is None:
                raise RoadsterError(400, "Missing dealer")
            return self.dealers[key.dealer], None
        if not isinstance(raw, dict):
            raise RoadsterError(400, "Invalid dealer")
        dpid, partner_id = _opt_str(raw, "dpid", "dealer."), _opt_str(raw, "partner_id", "dealer.")
        if not dpid and not partner_id:
            raise RoadsterError(400, "Missing dealer partner_id or dpid")
        if dpid:
            dealer = self.dealers.get(dpid)
            if dealer is None:
                raise RoadsterError(400, "Unknown dealer")
            return dealer, partner_id
        registered = self.dealer_by_partner_id(partner_id or "")
        if registered is not None:
            return registered, partner_id
        if key.dealer is None:
            raise RoadsterError(400, "Unknown dealer")
        return self.dealers[key.dealer], partner_id


def validate_customer(body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The request body → (customer fields, vehicle fields), or ``RoadsterError`` 400."""
    if not isinstance(body, dict):
        raise RoadsterError(400, "Invalid JSON body")
    customer = body.get("customer")
    if not isinstance(customer, dict):
        raise RoadsterError(400, "Missing customer")
    person: dict[str, Any] = {}
    for name in ("first_name", "last_name", "email"):
        value = _opt_str(customer, name, "")
        if not value or not value.strip():
            raise RoadsterError(400, f"Missing {name}")
        person[name] = value.strip()
    if not _EMAIL.match(person["email"]):
        raise RoadsterError(400, "Invalid email")
    for name in ("phone", "partner_id"):
        value = _opt_str(customer, name, "")
        if value:
            person[name] = value
    vehicle: dict[str, str] = {}
    raw_vehicle = body.get("vehicle")
    if raw_vehicle is not None:
        if not isinstance(raw_vehicle, dict):
            raise RoadsterError(400, "Invalid vehicle")
        for name in ("vin", "make", "model", "year"):
            value = _opt_str(raw_vehicle, name, "vehicle.")
            if value:
                vehicle[name] = value.strip()
        if "model" in vehicle and "vin" not in vehicle and "make" not in vehicle:
            raise RoadsterError(400, "Missing make")
    return person, vehicle


def _opt_str(obj: dict[str, Any], name: str, prefix: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        # The docs type every field as a string (year included); strictness here catches a
        # client sending ``"year": 2019`` before the real API has to be lenient about it.
        raise RoadsterError(400, f"Invalid {prefix}{name}: must be a string")
    return value
