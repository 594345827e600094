"""The Carfluence sandbox against Carfluence's REST API v1 page (seed 000), over real HTTP.

JWT signatures are checked with the published JWKS and ``cryptography`` here, independently
of the sandbox's signing code. Expiry is driven by the sandbox clock, never by sleeping.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sandbox.__main__ import build_parser, settings_from_args
from sandbox.carfluence import vin_with_check_digit
from tests.sandbox.harness import SandboxServer

EMAIL, PASSWORD = "ops@northgroup.example", "s3cret-pass"
KEY = "cf_live_northgroup_read"
HONDA = "1HGCM82633A004352"  # the docs' example VIN


@dataclass
class Carfluence:
    base: str
    control: str
    root: str

    def get(self, path: str, auth: str | None, timeout: float = 10, **params: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {auth}"} if auth else {}
        return requests.get(self.base + path, headers=headers, params=params, timeout=timeout)

    def login(self, email: str = EMAIL, password: str = PASSWORD) -> requests.Response:
        return requests.post(f"{self.base}/auth/login", json={"email": email, "password": password}, timeout=10)

    def token(self) -> str:
        return self.login().json()["token"]

    def ctl(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, self.control + path, json=body, timeout=10)


@pytest.fixture
def cf(sandbox: SandboxServer) -> Iterator[Carfluence]:
    client = Carfluence(f"{sandbox.root}/carfluence/api/v1", f"{sandbox.root}/_sandbox/carfluence", sandbox.root)
    assert client.ctl("POST", "/users", {"email": EMAIL, "password": PASSWORD, "group": "north"}).status_code == 201
    assert client.ctl("POST", "/keys", {"key": KEY, "group": "north", "scopes": ["inventory:read"]}).status_code == 201
    yield client
    client.ctl("DELETE", "/broken-pages")  # frees any request still hanging on a "timeout" page


def vehicle(vin: str = HONDA, **fields: Any) -> dict[str, Any]:
    """The docs' example vehicle as a control-route body (group ``north``)."""
    return {"vin": vin, "year": 2024, "make": "Honda", "model": "Accord", "price": 25999, "group": "north"} | fields


def err(resp: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["requestId"] == resp.headers["X-Request-Id"]
    return error


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# =========================================================================== login and JWTs


def test_login_issues_an_rs256_jwt_that_verifies_with_the_jwks(cf: Carfluence) -> None:
    resp = cf.login()
    assert resp.status_code == 200
    session = resp.json()
    assert (session["token_type"], session["expires_in"]) == ("Bearer", 900)
    assert session["user"]["dealer_groups"] == ["north"]
    header_b64, claims_b64, signature = session["token"].split(".")
    header, claims = json.loads(b64url(header_b64)), json.loads(b64url(claims_b64))
    assert header["alg"] == "RS256"
    assert claims["email"] == EMAIL and claims["exp"] - claims["iat"] == 900
    assert claims["dealer_groups"] == ["north"] and claims["roles"] == ["dealer_user"]

    [jwk] = requests.get(f"{cf.root}/carfluence/.well-known/jwks.json", timeout=10).json()["keys"]
    assert jwk["kid"] == header["kid"]
    public = rsa.RSAPublicNumbers(int.from_bytes(b64url(jwk["e"])), int.from_bytes(b64url(jwk["n"]))).public_key()
    public.verify(b64url(signature), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"email": EMAIL, "password": "wrong"}, 401, "invalid_credentials"),
        ({"email": "nobody@example.org", "password": PASSWORD}, 401, "invalid_credentials"),
        ({"email": EMAIL}, 422, "validation_failed"),
        (["not", "an", "object"], 400, "bad_request"),
    ],
)
def test_login_errors(cf: Carfluence, payload: Any, status: int, code: str) -> None:
    err(requests.post(f"{cf.base}/auth/login", json=payload, timeout=10), status, code)


def test_expired_token_is_a_401_until_refreshed(cf: Carfluence) -> None:
    cf.ctl("POST", "/tokens", {"ttlSeconds": 60})
    session = cf.login().json()
    assert cf.get("/inventory", session["token"]).status_code == 200
    cf.ctl("POST", "/clock", {"advanceSeconds": 61})

    expired = cf.get("/inventory", session["token"])
    assert "expired" in err(expired, 401, "token_expired")["message"]
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]

    refreshed = requests.post(f"{cf.base}/auth/refresh", json={"refresh_token": session["refresh_token"]}, timeout=10)
    assert refreshed.status_code == 200
    assert cf.get("/inventory", refreshed.json()["token"]).status_code == 200
    # Refresh tokens are single use.
    reused = requests.post(f"{cf.base}/auth/refresh", json={"refresh_token": session["refresh_token"]}, timeout=10)
    err(reused, 401, "unauthorized")
    assert cf.ctl("GET", "/stats").json()["users"][EMAIL] == {"logins": 1, "refreshes": 1}


def test_tokens_can_expire_after_n_more_requests(cf: Carfluence) -> None:
    token = cf.token()
    assert cf.ctl("POST", "/tokens", {"expireAfterRequests": 2}).json()["expireAfterRequests"] == 2
    assert [cf.get("/inventory", token).status_code for _ in range(2)] == [200, 200]
    err(cf.get("/inventory", token), 401, "token_expired")
    assert cf.get("/inventory", cf.token()).status_code == 200  # a new login works at once
    assert cf.get("/inventory", KEY).status_code == 200  # keys never expire
    assert cf.ctl("GET", "/tokens").status_code == 200
    assert cf.ctl("POST", "/tokens", {"expireAfterRequests": -1}).status_code == 422


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Missing Authorization"),
        ("Basic abc", "must be Bearer"),
        ("Bearer cf_live_unknown", "Invalid or revoked API key"),
        ("Bearer not.a.jwt", "Invalid token"),
        ("Bearer {tampered}", "bad signature"),
    ],
)
def test_bad_credentials_are_401(cf: Carfluence, authorization: str | None, message: str) -> None:
    if authorization and "{tampered}" in authorization:
        head, claims, sig = cf.token().split(".")
        forged = json.loads(b64url(claims)) | {"dealer_groups": ["south"]}
        forged_b64 = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        authorization = f"Bearer {head}.{forged_b64}.{sig}"
    headers = {"Authorization": authorization} if authorization else {}
    resp = requests.get(f"{cf.base}/inventory", headers=headers, timeout=10)
    assert message in err(resp, 401, "unauthorized")["message"]


def test_revoking_sessions_invalidates_issued_tokens(cf: Carfluence) -> None:
    token = cf.token()
    cf.ctl("POST", "/tokens", {"revokeAll": True})
    assert "revoked" in err(cf.get("/inventory", token), 401, "unauthorized")["message"]
    assert cf.get("/inventory", cf.token()).status_code == 200  # a fresh login works at once


def test_me_describes_the_caller(cf: Carfluence) -> None:
    assert cf.get("/auth/me", cf.token()).json()["user"]["email"] == EMAIL
    assert cf.get("/auth/me", KEY).json() == {
        "type": "api_key",
        "key": {"prefix": KEY[:12], "name": "", "scopes": ["inventory:read"]},
    }


# =========================================================================== scoped keys


@pytest.mark.parametrize(
    ("scopes", "path", "status"),
    [
        (["inventory:read"], "/inventory", 200),
        (["inventory:read"], f"/inventory/{HONDA}", 200),
        (["inventory:read"], f"/inventory/{HONDA}/history", 403),
        (["inventory:history"], "/inventory", 403),
        (["inventory:history"], f"/inventory/{HONDA}/history", 200),
    ],
)
def test_key_scopes(cf: Carfluence, scopes: list[str], path: str, status: int) -> None:
    cf.ctl("POST", "/vehicles", vehicle())
    cf.ctl("POST", "/keys", {"key": "cf_live_scoped", "group": "north", "scopes": scopes})
    resp = cf.get(path, "cf_live_scoped")
    assert resp.status_code == status, resp.text
    if status == 403:
        assert "scope" in err(resp, 403, "forbidden")["message"]


def test_keys_see_only_their_dealer_group(cf: Carfluence) -> None:
    cf.ctl("POST", "/vehicles", vehicle())
    cf.ctl("POST", "/vehicles/generate", {"count": 3, "seed": 5, "group": "south"})
    assert [v["vin"] for v in cf.get("/inventory", KEY).json()["vehicles"]] == [HONDA]
    south = [v for v in cf.ctl("GET", "/vehicles?group=south").json()["vehicles"]]
    err(cf.get(f"/inventory/{south[0]['vin']}", KEY), 404, "not_found")


def test_revoked_and_ip_restricted_keys(cf: Carfluence) -> None:
    cf.ctl("POST", "/keys", {"key": "cf_live_office_only", "group": "north", "allowedIps": ["10.9.9.9"]})
    err(cf.get("/inventory", "cf_live_office_only"), 403, "forbidden")
    cf.ctl("DELETE", f"/keys/{KEY}")
    err(cf.get("/inventory", KEY), 401, "unauthorized")
    bad = cf.ctl("POST", "/keys", {"key": "sk_wrong_prefix", "group": "north"})
    assert bad.status_code == 422


# =========================================================================== inventory


def test_vehicle_shape_matches_the_docs(cf: Carfluence) -> None:
    cf.ctl("POST", "/vehicles", vehicle(in_stock_date="2020-01-01", msrp="27500.5"))
    cf.ctl("PATCH", f"/vehicles/{HONDA}", {"in_stock_date": datetime.now(UTC).date().isoformat()})
    body = cf.get("/inventory", KEY).json()
    assert body["pagination"] == {"total": 1, "limit": 50, "offset": 0}
    [car] = body["vehicles"]
    assert list(car)[:7] == ["vin", "year", "make", "model", "price", "status", "days_on_lot"]
    assert (car["vin"], car["year"], car["price"], car["status"], car["days_on_lot"]) == (
        HONDA, 2024, "25999.00", "active", 0,
    )  # fmt: skip
    assert car["msrp"] == "27500.50" and car["dealer_group"] == "north"
    cf.ctl("POST", "/clock", {"advanceSeconds": 3 * 86400})
    assert cf.get(f"/inventory/{HONDA}", KEY).json()["days_on_lot"] == 3  # ages like a real lot


def test_pages_cover_the_inventory_exactly_once(cf: Carfluence) -> None:
    cf.ctl("POST", "/vehicles/generate", {"count": 120, "seed": 11, "group": "north"})
    seen: list[str] = []
    for offset in (0, 50, 100):
        page = cf.get("/inventory", KEY, limit=50, offset=offset).json()
        assert page["pagination"] == {"total": 120, "limit": 50, "offset": offset}
        seen += [v["vin"] for v in page["vehicles"]]
    assert len(seen) == len(set(seen)) == 120
    assert cf.get("/inventory", KEY, offset=500).json() == {
        "vehicles": [],
        "pagination": {"total": 120, "limit": 50, "offset": 500},
    }


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"limit": 0}, {"limit"}),
        ({"limit": 101}, {"limit"}),
        ({"offset": -1, "limit": "x"}, {"offset", "limit"}),
        ({"status": "gone"}, {"status"}),
        ({"price_min": "cheap"}, {"price_min"}),
        ({"updated_since": "2026-01-01T00:00:00"}, {"updated_since"}),  # no zone
    ],
)
def test_bad_query_parameters_are_422(cf: Carfluence, params: dict[str, Any], fields: set[str]) -> None:
    assert set(err(cf.get("/inventory", KEY, **params), 422, "validation_failed")["fields"]) == fields


FLEET = [
    vehicle("1HGCM82633A004352", status="active", condition="used", source="dms", dealer_id="n1"),
    vehicle("2HGFC2F59KH500001", model="Civic", year=2019, price="18500.00", status="sold", source="crm"),
    vehicle("5YJ3E1EA7KF300002", make="Tesla", model="Model 3", year=2022, price=41000.5, condition="certified"),
    vehicle("1FTFW1E50NFA00003", make="Ford", model="F-150", year=2025, price=61999, condition="new", dealer_id="n2"),
]


@pytest.mark.parametrize(
    ("params", "vins"),
    [
        ({}, [0, 1, 2, 3]),
        ({"status": "sold"}, [1]),
        ({"status": "active,sold"}, [0, 1, 2, 3]),
        ({"make": "honda"}, [0, 1]),
        ({"make": "Honda", "model": "civic"}, [1]),
        ({"year_min": 2022}, [0, 2, 3]),
        ({"year_min": 2020, "year_max": 2024}, [0, 2]),
        ({"price_min": "25999.00"}, [0, 2, 3]),
        ({"price_max": 25999}, [0, 1]),
        ({"condition": "new,certified"}, [2, 3]),
        ({"source": "crm"}, [1]),
        ({"dealer_id": "n2"}, [3]),
        ({"vin_unknown_param": "ignored"}, [0, 1, 2, 3]),
    ],
)
def test_filters(cf: Carfluence, params: dict[str, Any], vins: list[int]) -> None:
    for car in FLEET:
        assert cf.ctl("POST", "/vehicles", car).status_code == 201
    body = cf.get("/inventory", KEY, **params).json()
    assert [v["vin"] for v in body["vehicles"]] == [FLEET[i]["vin"] for i in vins]
    assert body["pagination"]["total"] == len(vins)


def test_updated_since_finds_only_later_changes(cf: Carfluence) -> None:
    for car in FLEET:
        cf.ctl("POST", "/vehicles", car)
    cf.ctl("POST", "/clock", {"advanceSeconds": 5})
    since = datetime.now(UTC).isoformat()  # sandbox clock is 5 s ahead of this
    cf.ctl("PATCH", f"/vehicles/{FLEET[2]['vin']}", {"price": 39999})
    body = cf.get("/inventory", KEY, updated_since=since).json()
    assert [v["vin"] for v in body["vehicles"]] == [FLEET[2]["vin"]]


def test_inventory_changes_between_pulls_and_history_records_it(cf: Carfluence) -> None:
    cf.ctl("POST", "/vehicles", vehicle())
    first = cf.get(f"/inventory/{HONDA}", KEY).json()
    changed = cf.ctl("PATCH", f"/vehicles/{HONDA}", {"price": "24999.00", "status": "pending"}).json()
    assert (changed["price"], changed["status"]) == ("24999.00", "pending")
    assert changed["updated_at"] > first["updated_at"]
    assert cf.get("/inventory", KEY).json()["vehicles"][0]["price"] == "24999.00"
    assert cf.ctl("DELETE", f"/vehicles/{HONDA}").status_code == 200
    assert cf.get("/inventory", KEY).json()["pagination"]["total"] == 0
    err(cf.get(f"/inventory/{HONDA}", KEY), 404, "not_found")

    history = cf.get(f"/inventory/{HONDA}/history", cf.token()).json()["history"]
    assert [(h["version"], h["event"]) for h in history] == [(1, "created"), (2, "updated"), (3, "removed")]
    assert history[1]["changed_fields"] == ["price", "status"]
    assert history[1]["vehicle"]["price"] == "24999.00" and history[2]["vehicle"] is None
    readded = cf.ctl("POST", "/vehicles", vehicle())
    assert readded.status_code == 201
    assert cf.get(f"/inventory/{HONDA}/history", cf.token()).json()["history"][-1]["event"] == "restored"


def test_control_vehicle_validation(cf: Carfluence) -> None:
    bad = cf.ctl("POST", "/vehicles", {"vin": "SHORT", "year": "2024", "status": "gone", "colour": "red"})
    assert set(bad.json()["error"]["fields"]) >= {"vin"}
    bad = cf.ctl("POST", "/vehicles", vehicle(year="2024", status="gone", colour="red", price=True))
    assert set(bad.json()["error"]["fields"]) == {"year", "status", "colour", "price"}
    cf.ctl("POST", "/vehicles", vehicle())
    assert cf.ctl("POST", "/vehicles", vehicle()).json()["error"]["fields"] == {"vin": "already in inventory"}
    assert cf.ctl("PATCH", "/vehicles/NOPE0000000000000", {"price": 1}).status_code == 404


def test_generator_is_deterministic_and_churn_changes_exactly_n(cf: Carfluence) -> None:
    first = cf.ctl("POST", "/vehicles/generate", {"count": 40, "seed": 3, "group": "north"}).json()["vins"]
    assert all(vin_with_check_digit(v) == v for v in first)
    cf.ctl("POST", "/reset")
    cf.ctl("POST", "/keys", {"key": KEY, "group": "north"})
    assert cf.ctl("POST", "/vehicles/generate", {"count": 40, "seed": 3, "group": "north"}).json()["vins"] == first

    before = {v["vin"]: v["price"] for v in cf.get("/inventory", KEY, limit=100).json()["vehicles"]}
    churned = cf.ctl("POST", "/vehicles/churn", {"change": 4, "remove": 2, "seed": 9}).json()
    after = {v["vin"]: v["price"] for v in cf.get("/inventory", KEY, limit=100).json()["vehicles"]}
    assert set(before) - set(after) == set(churned["removed"]) and len(churned["removed"]) == 2
    assert {vin for vin in after if after[vin] != before[vin]} == set(churned["changed"])
    assert len(churned["changed"]) == 4


# =========================================================================== limits and faults


def test_per_key_rate_limit_headers_and_429(cf: Carfluence) -> None:
    cf.ctl("POST", "/keys", {"key": "cf_live_tight", "group": "north", "rateLimit": 2})
    first, second, third = (cf.get("/inventory", "cf_live_tight") for _ in range(3))
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
    assert second.headers["X-RateLimit-Remaining"] == "0"
    assert int(third.headers["Retry-After"]) >= 1
    assert int(third.headers["X-RateLimit-Reset"]) == int(first.headers["X-RateLimit-Reset"])
    err(third, 429, "rate_limited")
    assert cf.get("/inventory", KEY).headers["X-RateLimit-Limit"] == "60"  # other keys unaffected
    cf.ctl("POST", "/clock", {"advanceSeconds": 61})
    assert cf.get("/inventory", "cf_live_tight").status_code == 200  # a new window


def test_outage_switch(cf: Carfluence) -> None:
    cf.ctl("POST", "/switches", {"outage": True})
    err(cf.login(), 503, "service_unavailable")
    err(cf.get("/inventory", KEY), 503, "service_unavailable")
    cf.ctl("POST", "/switches", {"outage": False})
    assert cf.get("/inventory", KEY).status_code == 200


def test_latency_switch(cf: Carfluence) -> None:
    cf.ctl("POST", "/switches", {"latencyMs": 400})
    with pytest.raises(requests.ReadTimeout):
        cf.get("/inventory", KEY, timeout=0.1)


def test_fault_rate(cf: Carfluence) -> None:
    cf.ctl("POST", "/switches", {"faultRate": 1})
    assert cf.get("/inventory", KEY).status_code in (500, 502, 503)


def test_broken_page_fails_that_page_only(cf: Carfluence) -> None:
    cf.ctl("POST", "/vehicles/generate", {"count": 50, "seed": 2, "group": "north"})
    assert cf.ctl("POST", "/broken-pages", {"page": 3, "mode": "error", "times": 1}).status_code == 201
    statuses = [cf.get("/inventory", KEY, limit=10, offset=o).status_code for o in (0, 10, 20, 30, 40)]
    assert statuses == [200, 200, 500, 200, 200]
    assert cf.get("/inventory", KEY, limit=10, offset=20).status_code == 200  # times: 1 used up
    bad = cf.ctl("POST", "/broken-pages", {"page": 0, "mode": "explode"})
    assert set(bad.json()["error"]["fields"]) == {"page", "mode"}


def test_broken_page_can_time_out(cf: Carfluence) -> None:
    cf.ctl("POST", "/vehicles/generate", {"count": 30, "seed": 2, "group": "north"})
    cf.ctl("POST", "/broken-pages", {"page": 2, "mode": "timeout", "hangSeconds": 5})
    assert cf.get("/inventory", KEY, limit=10).status_code == 200
    with pytest.raises(requests.ReadTimeout):
        cf.get("/inventory", KEY, limit=10, offset=10, timeout=0.2)
    cf.ctl("DELETE", "/broken-pages")
    assert cf.get("/inventory", KEY, limit=10, offset=10).status_code == 200


def test_audit_log_and_unknown_routes(cf: Carfluence) -> None:
    err(cf.get("/no-such-thing", KEY), 404, "not_found")
    err(cf.get("/no-such-thing", None), 401, "unauthorized")
    entries = cf.ctl("GET", "/audit").json()["requests"]
    assert [(e["principal"], e["status"], e["ip"]) for e in entries[-2:]] == [
        (KEY, 404, "127.0.0.1"),
        ("_anonymous", 401, "127.0.0.1"),
    ]


def test_cli_flags_seed_users_and_keys() -> None:
    from sandbox.app import create_sandbox_app, get_registry

    args = build_parser().parse_args(
        ["--carfluence-user", "a@b.example:pw:west", "--carfluence-key", "cf_live_cli:west:inventory:read"]
    )
    market = get_registry(create_sandbox_app(settings_from_args(args, {}))).marketplaces["carfluence"]
    assert market._keys["cf_live_cli"].scopes == ["inventory:read"]  # type: ignore[attr-defined]
    assert market._users["a@b.example"].groups == ["west"]  # type: ignore[attr-defined]
