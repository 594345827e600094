"""``/_sandbox/carfluence/...``: users, keys, vehicles (add, change, remove, generate, churn),
token lifetime, the clock, switches, broken pages, the audit log and stats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, jsonify, request

from sandbox.carfluence.inventory import InventoryError
from sandbox.common import ApiError, ControlRoute, json_body_or_error

if TYPE_CHECKING:
    from sandbox.carfluence.http import CarfluenceSandbox

_MODES = ("error", "timeout")


def _body() -> dict[str, Any]:
    data = json_body_or_error(request.get_data()) or {}
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "Request body must be a JSON object.")
    return data


def _created(payload: dict[str, Any]) -> Response:
    resp = jsonify(payload)
    resp.status_code = 201
    return resp


def _invalid(fields: dict[str, str]) -> ApiError:
    return ApiError(422, "validation_failed", "One or more fields are invalid.", fields)


def _count(data: dict[str, Any], name: str, default: int = 0, upper: int = 1_000_000) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
        raise _invalid({name: f"must be an integer between 0 and {upper}"})
    return value


def control_routes(market: CarfluenceSandbox) -> list[ControlRoute]:  # noqa: C901 - one closure per route
    inv = market.inventory

    def list_users() -> Response:
        with market._lock:
            users = [
                {"id": u.id, "email": u.email, "groups": u.groups, "logins": u.logins} for u in market._users.values()
            ]
        return jsonify({"users": users})

    def create_user() -> Response:
        data = _body()
        email, password = data.get("email"), data.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
            raise _invalid({"email": "is required", "password": "is required"})
        groups = data.get("groups") or [data.get("group") or "demo-group"]
        user = market.add_user(email, password, [str(gr) for gr in groups], str(data.get("name") or ""))
        return _created({"id": user.id, "email": user.email, "groups": user.groups})

    def list_keys() -> Response:
        with market._lock:
            return jsonify({"keys": [k.to_json() for k in market._keys.values()]})

    def create_key() -> Response:
        data = _body()
        scopes = data.get("scopes", ["inventory:read", "inventory:history"])
        if isinstance(scopes, str):
            scopes = [s.strip() for s in scopes.split(",") if s.strip()]
        limit = data.get("rateLimit")
        if limit is not None:
            limit = _count(data, "rateLimit")
        try:
            key = market.add_key(
                data.get("key"),
                str(data.get("group") or "demo-group"),
                list(scopes),
                name=str(data.get("name") or ""),
                rate_limit=limit,
                allowed_ips=[str(ip) for ip in data.get("allowedIps") or []],
            )
        except ValueError as exc:
            raise _invalid({"key": str(exc)}) from exc
        return _created(key.to_json())

    def revoke_key(key: str) -> Response:
        with market._lock:
            record = market._keys.get(key)
            if record is None:
                raise ApiError(404, "not_found", "Unknown key.")
            record.revoked = True
            return jsonify(record.to_json())

    def list_vehicles() -> Response:
        include = request.args.get("includeRemoved", "").lower() in ("1", "true", "yes")
        return jsonify({"vehicles": inv.dump(request.args.get("group"), include_removed=include)})

    def add_vehicle() -> Response:
        data = _body()
        group = str(data.pop("group", None) or data.pop("dealer_group", None) or "demo-group")
        try:
            return _created(inv.add(group, data))
        except InventoryError as exc:
            raise _invalid(exc.fields) from exc

    def change_vehicle(vin: str) -> Response:
        try:
            vehicle = inv.change(vin, _body())
        except InventoryError as exc:
            raise _invalid(exc.fields) from exc
        if vehicle is None:
            raise ApiError(404, "not_found", "No such vehicle.")
        return jsonify(vehicle)

    def remove_vehicle(vin: str) -> Response:
        if not inv.remove(vin):
            raise ApiError(404, "not_found", "No such vehicle.")
        return jsonify({"removed": vin.upper()})

    def generate() -> Response:
        data = _body()
        count, seed = _count(data, "count", 10, 100_000), _count(data, "seed", 1, 2**31)
        vins = inv.generate(str(data.get("group") or "demo-group"), count, seed, dealer_id=data.get("dealerId"))
        return _created({"added": len(vins), "vins": vins})

    def churn() -> Response:
        data = _body()
        result = inv.churn(
            data.get("group"),
            _count(data, "seed", 1, 2**31),
            change=_count(data, "change"),
            remove=_count(data, "remove"),
        )
        return jsonify(result)

    def get_tokens() -> Response:
        return jsonify({"ttlSeconds": market.token_ttl, "jwks": market.issuer.jwks()})

    def set_tokens() -> Response:
        data = _body()
        ttl = data.get("ttlSeconds")
        if ttl is not None:
            if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
                raise _invalid({"ttlSeconds": "must be a positive number"})
            market.token_ttl = float(ttl)
        after = data.get("expireAfterRequests")
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise _invalid({"expireAfterRequests": "must be a non-negative integer"})
        if "expireAfterRequests" in data:
            market.expire_after = after
        if data.get("revokeAll"):
            market.revoke_all_tokens()
        return jsonify({"ttlSeconds": market.token_ttl, "expireAfterRequests": market.expire_after})

    def get_clock() -> Response:
        return jsonify({"now": market.clock(), "offsetSeconds": market.clock.offset})

    def advance_clock() -> Response:
        market.clock.advance(_body().get("advanceSeconds", 0))
        return get_clock()

    def get_switches() -> Response:
        return jsonify(market.switches.to_dict(market.settings))

    def set_switches() -> Response:
        market.switches.update(_body())
        return get_switches()

    def get_broken() -> Response:
        return jsonify({"brokenPages": market.broken_pages, "hangSeconds": market.hang_seconds})

    def add_broken() -> Response:
        data = _body()
        page, mode, times = data.get("page"), data.get("mode", "error"), data.get("times")
        errors = {}
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            errors["page"] = "must be a page number from 1"
        if mode not in _MODES:
            errors["mode"] = "must be one of: " + ", ".join(_MODES)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            errors["times"] = "must be a positive integer or null (always)"
        hang = data.get("hangSeconds")
        if hang is not None and (isinstance(hang, bool) or not isinstance(hang, (int, float)) or hang < 0):
            errors["hangSeconds"] = "must be a non-negative number"
        if errors:
            raise _invalid(errors)
        with market._lock:
            market.broken_pages = [r for r in market.broken_pages if r["page"] != page]
            market.broken_pages.append({"page": page, "mode": mode, "times": times})
            if hang is not None:
                market.hang_seconds = float(hang)
        return _created({"brokenPages": market.broken_pages, "hangSeconds": market.hang_seconds})

    def clear_broken() -> Response:
        with market._lock:
            market.broken_pages = []
            market._release.set()  # free threads hanging on a "timeout" page
            market._release = type(market._release)()
        return get_broken()

    def audit() -> Response:
        with market._lock:
            return jsonify({"requests": list(market.audit)})

    def stats() -> Response:
        return jsonify(market.stats())

    def reset() -> Response:
        market.reset()
        return jsonify({"reset": True})

    return [
        ("/users", "users", list_users, ["GET"]),
        ("/users", "create_user", create_user, ["POST"]),
        ("/keys", "keys", list_keys, ["GET"]),
        ("/keys", "create_key", create_key, ["POST"]),
        ("/keys/<key>", "revoke_key", revoke_key, ["DELETE"]),
        ("/vehicles", "vehicles", list_vehicles, ["GET"]),
        ("/vehicles", "add_vehicle", add_vehicle, ["POST"]),
        ("/vehicles/generate", "generate", generate, ["POST"]),
        ("/vehicles/churn", "churn", churn, ["POST"]),
        ("/vehicles/<vin>", "change_vehicle", change_vehicle, ["PATCH"]),
        ("/vehicles/<vin>", "remove_vehicle", remove_vehicle, ["DELETE"]),
        ("/tokens", "tokens", get_tokens, ["GET"]),
        ("/tokens", "set_tokens", set_tokens, ["POST"]),
        ("/clock", "clock", get_clock, ["GET"]),
        ("/clock", "advance_clock", advance_clock, ["POST"]),
        ("/switches", "switches", get_switches, ["GET"]),
        ("/switches", "set_switches", set_switches, ["POST", "PATCH"]),
        ("/broken-pages", "broken_pages", get_broken, ["GET"]),
        ("/broken-pages", "add_broken_page", add_broken, ["POST"]),
        ("/broken-pages", "clear_broken_pages", clear_broken, ["DELETE"]),
        ("/audit", "audit", audit, ["GET"]),
        ("/stats", "stats", stats, ["GET"]),
        ("/reset", "reset", reset, ["POST"]),
    ]
