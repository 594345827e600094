"""Flask wiring for the Roadster emulation: the partner API, the dealers' Express storefronts
and the ``/_sandbox/roadster`` control routes."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from markupsafe import escape

from sandbox.common import ApiError, ControlRoute, SandboxSettings, json_body_or_error
from sandbox.roadster.crypto import TokenError, build_query, decrypt_token, encrypt_token, parse_customer
from sandbox.roadster.state import Dealer, RoadsterError, RoadsterState, new_cipher_key, validate_customer
from sandbox.switches import Epoch, MarketSwitches

_UNAUTHORIZED = {"WWW-Authenticate": 'Token realm="roadster"'}
_FAULTS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class RoadsterSandbox:
    """Roadster: ``POST /roadster/v1/customers`` and ``/roadster/stores/<dealer>/express/<vin>``."""

    name = "roadster"
    url_prefix = "/roadster"

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.state = RoadsterState()
        self.switches = MarketSwitches()
        self.epoch = Epoch()
        self.reset()

    # ----------------------------------------------------------------- lifecycle

    def reset(self) -> None:
        """Forget dealers, keys, customers and arrivals; clear switches; re-seed from settings."""
        self.epoch.renew()  # requests still sleeping from before the reset give up
        self.state.clear()
        self.switches = MarketSwitches()
        self._stats: Counter[str] = Counter()
        self._fault_rng = random.Random(self.settings.seed)
        for spec in self.settings.roadster_dealers:
            slug, _, rest = spec.partition(":")
            partner_id, _, cipher_key = rest.partition(":")
            self.state.add_dealer(slug, partner_id=partner_id or None, cipher_key=cipher_key or None)
        for spec in self.settings.roadster_keys:
            key, _, dealer = spec.partition(":")
            self.state.add_key(key, "sandbox partner", dealer or None)

    def on_settings_changed(self, changed: set[str]) -> None:
        if "seed" in changed:
            self._fault_rng = random.Random(self.settings.seed)

    def stats(self) -> dict[str, Any]:
        customers = self.state.customers_by_dealer()
        return {
            "requests": dict(self._stats),
            "customers": {slug: len(rows) for slug, rows in customers.items()},
            "arrivals": len(self.state.arrivals),
        }

    # ----------------------------------------------------------------- request pipeline

    def register(self, app: Flask) -> None:
        app.before_request(self._before_request)
        app.register_error_handler(RoadsterError, _error_response)
        app.add_url_rule("/roadster/v1/customers", "roadster_customers", self._create_customer, methods=["POST"])
        for rule in ("/roadster/stores/<dealer>/express", "/roadster/stores/<dealer>/express/<vin>"):
            app.add_url_rule(rule, "roadster_express" + ("_vin" if "<vin>" in rule else ""), self._express)

    def _before_request(self) -> None:
        """Latency → outage (503) → injected fault (5xx) → routing (404/405) → auth (401)."""
        if not (request.path == self.url_prefix or request.path.startswith(self.url_prefix + "/")):
            return
        self._stats[f"{request.method} {request.url_rule.rule if request.url_rule else request.path}"] += 1
        epoch = self.epoch.current()
        latency = self.switches.latency(self.settings)
        if latency > 0:
            epoch.wait(latency / 1000.0)
        if epoch.is_set():
            raise RoadsterError(503, "The sandbox was reset while this request waited")
        if self.switches.outage:
            raise RoadsterError(503, "Service Unavailable", {"Retry-After": "30"})
        rate = self.switches.faults(self.settings)
        if rate > 0 and self._fault_rng.random() < rate:
            status = self._fault_rng.choice(tuple(_FAULTS))
            raise RoadsterError(status, _FAULTS[status])
        exc = request.routing_exception
        if exc is not None:
            status = getattr(exc, "code", 404) or 404
            raise RoadsterError(status, "Method Not Allowed" if status == 405 else "Not Found")
        if request.endpoint == "roadster_customers":
            g.roadster_key = self._authenticate(request.headers.get("Authorization"))

    def _authenticate(self, header: str | None) -> Any:
        # Both documented forms: ``Authorization: <key>`` and ``Authorization: Token <key>``.
        if not header or not header.strip():
            raise RoadsterError(401, "Missing API key", _UNAUTHORIZED)
        parts = header.strip().split()
        if len(parts) == 2 and parts[0] == "Token":
            token = parts[1]
        elif len(parts) == 1:
            token = parts[0]
        else:
            raise RoadsterError(401, "Invalid API key", _UNAUTHORIZED)
        record = self.state.keys.get(token)
        if record is None:
            raise RoadsterError(401, "Invalid API key", _UNAUTHORIZED)
        if record.revoked:
            raise RoadsterError(401, "API key revoked", _UNAUTHORIZED)
        return record

    # ----------------------------------------------------------------- partner API

    def _create_customer(self) -> Response:
        try:
            body = json.loads(request.get_data() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RoadsterError(400, "Invalid JSON body") from exc
        person, vehicle = validate_customer(body)
        dealer, dealer_partner_id = self.state.resolve_dealer(body, g.roadster_key)
        extra = {"vehicle": vehicle, "dealerPartnerId": dealer_partner_id, "key": g.roadster_key.key[:6] + "…"}
        customer, duplicate = self.state.upsert_customer(dealer, person, via="api", extra=extra)
        out: dict[str, Any] = {
            "status": "ok",
            "customer": {"id": customer.id, "redirect_url": self._redirect_url(dealer, vehicle, customer.id)},
        }
        if duplicate:
            out["duplicate"] = True
        return jsonify(out)

    def _redirect_url(self, dealer: Dealer, vehicle: dict[str, str], customer_id: int) -> str:
        base = f"{request.host_url.rstrip('/')}/roadster/stores/{dealer.slug}/express"
        if "vin" in vehicle:
            return f"{base}/{vehicle['vin']}?ucid={customer_id}"
        search = [(k, vehicle[k]) for k in ("make", "model", "year") if k in vehicle]
        return f"{base}?{urlencode([*search, ('ucid', str(customer_id))])}"

    # ----------------------------------------------------------------- Express storefront

    def _express(self, dealer: str, vin: str | None = None) -> Response:
        found = self.state.find_dealer(dealer)
        if found is None:
            raise RoadsterError(404, "Unknown storefront")
        mem, ucid = request.args.get("mem"), request.args.get("ucid")
        arrival: dict[str, Any] = {"dealer": found.slug, "vin": vin, "via": "anonymous", "pricing_unlocked": False}
        if mem is not None:
            arrival.update(self._arrive_with_token(found, vin, mem))
        elif ucid is not None:
            customer = self.state.customers.get(int(ucid)) if ucid.isdigit() else None
            if customer is None or customer.dpid != found.dpid:
                raise RoadsterError(404, "Unknown customer")
            arrival.update(via="ucid", pricing_unlocked=True, customer=_shown(customer.to_json()))
        self.state.record_arrival(arrival)
        if _wants_json():
            return jsonify({"status": "ok", **arrival})
        return Response(_page(found, arrival), mimetype="text/html")

    def _arrive_with_token(self, dealer: Dealer, vin: str | None, mem: str) -> dict[str, Any]:
        if not dealer.cipher_key:
            raise RoadsterError(400, "This storefront has no encryption key configured")
        try:
            fields, form = parse_customer(decrypt_token(dealer.cipher_key, mem))
        except TokenError as exc:
            raise RoadsterError(400, f"Invalid mem token: {exc}") from exc
        if not fields.get("email"):
            raise RoadsterError(400, "Missing email")
        person = {
            "email": fields["email"],
            "first_name": fields.get("fname"),
            "last_name": fields.get("lname"),
            "phone": fields.get("phone"),
            "partner_id": fields.get("custid"),
        }
        # The docs: the link creates the storefront account and submits an "Unlock Inquiry" lead.
        customer, duplicate = self.state.upsert_customer(
            dealer, person, via="express", extra={"vin": vin, "lead": "unlock_inquiry"}
        )
        return {
            "via": "mem",
            "pricing_unlocked": True,
            "decrypted": fields,
            "plaintext_form": form,
            "customer": _shown(customer.to_json()),
            "duplicate": duplicate,
            "lead": {"type": "unlock_inquiry"},
        }

    # ----------------------------------------------------------------- control routes

    def control_routes(self) -> list[ControlRoute]:
        state = self.state

        def body() -> dict[str, Any]:
            data = json_body_or_error(request.get_data()) or {}
            if not isinstance(data, dict):
                raise ApiError(400, "bad_request", "Request body must be a JSON object.")
            return data

        def dealer_or_404(ref: str) -> Dealer:
            found = state.find_dealer(ref)
            if found is None:
                raise ApiError(404, "not_found", "Unknown dealer.")
            return found

        def list_dealers() -> Response:
            return jsonify({"dealers": [d.to_json() for d in state.dealers.values()]})

        def create_dealer() -> Response:
            data = body()
            slug = data.get("slug")
            if not isinstance(slug, str):
                raise ApiError(422, "validation_failed", "slug is required.", {"slug": "is required"})
            try:
                dealer = state.add_dealer(
                    slug,
                    data.get("name"),
                    dpid=data.get("dpid"),
                    partner_id=data.get("partnerId"),
                    cipher_key=data.get("encryptionKey"),
                )
            except ValueError as exc:
                raise ApiError(422, "validation_failed", str(exc)) from exc
            resp = jsonify(dealer.to_json())
            resp.status_code = 201
            return resp

        def set_cipher_key(dealer: str) -> Response:
            found = dealer_or_404(dealer)
            key = body().get("encryptionKey") or new_cipher_key()
            try:
                state.add_dealer(found.slug, cipher_key=key)
            except ValueError as exc:
                raise ApiError(422, "validation_failed", str(exc), {"encryptionKey": str(exc)}) from exc
            return jsonify(found.to_json())

        def list_keys() -> Response:
            return jsonify({"keys": [state.key_json(k) for k in state.keys.values()]})

        def create_key() -> Response:
            data = body()
            record = state.add_key(data.get("key"), str(data.get("partner") or "sandbox partner"), data.get("dealer"))
            resp = jsonify(state.key_json(record))
            resp.status_code = 201
            return resp

        def revoke_key(key: str) -> Response:
            record = state.keys.get(key)
            if record is None:
                raise ApiError(404, "not_found", "Unknown key.")
            record.revoked = True
            return jsonify(state.key_json(record))

        def customers() -> Response:
            return jsonify({"customers": state.customers_by_dealer(request.args.get("dealer"))})

        def arrivals() -> Response:
            return jsonify({"arrivals": list(state.arrivals)})

        def express_link() -> Response:
            data = body()
            found = dealer_or_404(str(data.get("dealer") or ""))
            if not found.cipher_key:
                raise ApiError(409, "conflict", "Dealer has no encryption key.")
            person = {k: str(v) for k, v in (data.get("customer") or {}).items() if v is not None}
            token = encrypt_token(found.cipher_key, build_query(person))
            path = f"/roadster/stores/{found.slug}/express/{data.get('vin') or ''}".rstrip("/")
            return jsonify({"token": token, "url": f"{request.host_url.rstrip('/')}{path}?{urlencode({'mem': token})}"})

        def get_switches() -> Response:
            return jsonify(self.switches.to_dict(self.settings))

        def set_switches() -> Response:
            self.switches.update(body())
            return jsonify(self.switches.to_dict(self.settings))

        def stats() -> Response:
            return jsonify(self.stats())

        def reset() -> Response:
            self.reset()
            return jsonify({"reset": True})

        return [
            ("/dealers", "dealers", list_dealers, ["GET"]),
            ("/dealers", "create_dealer", create_dealer, ["POST"]),
            ("/dealers/<dealer>/encryption-key", "cipher_key", set_cipher_key, ["PUT", "POST"]),
            ("/keys", "keys", list_keys, ["GET"]),
            ("/keys", "create_key", create_key, ["POST"]),
            ("/keys/<key>", "revoke_key", revoke_key, ["DELETE"]),
            ("/customers", "customers", customers, ["GET"]),
            ("/arrivals", "arrivals", arrivals, ["GET"]),
            ("/express-link", "express_link", express_link, ["POST"]),
            ("/switches", "switches", get_switches, ["GET"]),
            ("/switches", "set_switches", set_switches, ["POST", "PATCH"]),
            ("/stats", "stats", stats, ["GET"]),
            ("/reset", "reset", reset, ["POST"]),
        ]


def _error_response(err: RoadsterError) -> Response:
    if request.endpoint and request.endpoint.startswith("roadster_express") and not _wants_json():
        html = f"<!doctype html><title>Roadster</title><h1>{err.status}</h1><p>{escape(err.message)}</p>"
        resp = Response(html, status=err.status, mimetype="text/html")
    else:
        resp = jsonify({"status": "error", "error": err.message})
        resp.status_code = err.status
    for name, value in err.headers.items():
        resp.headers[name] = value
    return resp


def _wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _shown(customer: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "first_name", "last_name", "email", "phone", "partner_id")
    return {k: customer[k] for k in keep}


def _page(dealer: Dealer, arrival: dict[str, Any]) -> str:
    customer = arrival.get("customer")
    who = "Welcome, guest" if not customer else f"Welcome, {customer['first_name'] or ''} {customer['last_name'] or ''}"
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in (customer or {}).items() if v is not None)
    pricing = "Pricing unlocked" if arrival["pricing_unlocked"] else "Pricing locked"
    return (
        f"<!doctype html><title>{escape(dealer.name)} Express</title>"
        f"<h1>{escape(who.strip())}</h1><p>{escape(dealer.name)} · VIN {escape(arrival['vin'] or '-')}</p>"
        f"<p class=pricing>{pricing}</p><dl>{rows}</dl>"
    )
