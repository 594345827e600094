"""The Roadster sandbox against Roadster's API reference (seed 003), over real HTTP.

Express links are built here with the ``openssl`` command line, as the docs do, so the
sandbox's decryption is checked against an independent AES-256-CBC implementation.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests

from sandbox.__main__ import build_parser, settings_from_args
from sandbox.roadster import build_query, encrypt_token
from tests.sandbox.harness import SandboxServer

KEY = "rd_test_partner"
KEY32 = base64.b64encode(bytes(range(32))).decode()  # 32 bytes: used as is
KEY16 = base64.b64encode(b"sixteen byte key").decode()  # not 32 bytes: SHA-256'd
VIN = "JM1NDAM77K0306400"
JSON = {"Accept": "application/json"}


@dataclass
class Roadster:
    root: str
    control: str

    def post(self, body: Any, auth: str | None = KEY, timeout: float = 10) -> requests.Response:
        headers = {"Authorization": auth} if auth is not None else {}
        return requests.post(f"{self.root}/roadster/v1/customers", json=body, headers=headers, timeout=timeout)

    def store(self, dealer: str, vin: str | None = VIN, query: str = "") -> str:
        return f"{self.root}/roadster/stores/{dealer}/express" + (f"/{vin}" if vin else "") + query

    def customers(self) -> dict[str, list[dict[str, Any]]]:
        return requests.get(f"{self.control}/customers", timeout=10).json()["customers"]


@pytest.fixture
def roadster(sandbox: SandboxServer) -> Roadster:
    control = f"{sandbox.root}/_sandbox/roadster"
    for dealer in (
        {"slug": "brickell-mazda", "name": "Brickell Mazda", "partnerId": "51101", "encryptionKey": KEY32},
        {"slug": "coral-ford", "name": "Coral Ford", "dpid": "2002", "encryptionKey": KEY16},
        {"slug": "keyless-kia"},
    ):
        assert requests.post(f"{control}/dealers", json=dealer, timeout=10).status_code == 201
    made = requests.post(f"{control}/keys", json={"key": KEY, "dealer": "brickell-mazda"}, timeout=10)
    assert made.status_code == 201
    return Roadster(sandbox.root, control)


def body(email: str = "ralf4@testing.zz", **sections: Any) -> dict[str, Any]:
    """The docs' shell example, with overrides per section (``customer={...}``, ``dealer=None``)."""
    out: dict[str, Any] = {
        "customer": {"first_name": "Ralph", "last_name": "Dorfin", "email": email, "phone": "800-555-1234"},
        "vehicle": {"vin": VIN, "make": "Mazda", "model": "MX-5 Miata", "year": "2019"},
        "dealer": {"partner_id": "51101"},
    }
    for name, value in sections.items():
        if value is None:
            out.pop(name)
        else:
            out[name] = value
    return out


def openssl_token(b64_key: str, plaintext: bytes, iv: bytes) -> str:
    """Base64(IV + ciphertext) with the ciphertext from ``openssl enc``; Ruby's 60-column lines."""
    raw = base64.b64decode(b64_key)
    key = raw if len(raw) == 32 else hashlib.sha256(raw).digest()
    ciphertext = subprocess.run(
        ["openssl", "enc", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex()],
        input=plaintext,
        capture_output=True,
        check=True,
    ).stdout
    flat = base64.b64encode(iv + ciphertext).decode()
    return "".join(flat[i : i + 60] + "\n" for i in range(0, len(flat), 60))  # Base64.encode64


# =========================================================================== POST /v1/customers


@pytest.mark.parametrize(
    ("auth", "status", "error"),
    [
        (KEY, 200, None),
        (f"Token {KEY}", 200, None),
        (None, 401, "Missing API key"),
        ("Token rd_nope", 401, "Invalid API key"),
        (f"Bearer {KEY}", 401, "Invalid API key"),  # not a documented form
        (f"Token {KEY} extra", 401, "Invalid API key"),
    ],
    ids=["bare-key", "token-key", "missing", "unknown", "bearer", "junk"],
)
def test_both_documented_auth_forms(roadster: Roadster, auth: str | None, status: int, error: str | None) -> None:
    resp = roadster.post(body(), auth=auth)
    assert resp.status_code == status, resp.text
    if error:
        assert resp.json() == {"status": "error", "error": error}
        assert roadster.customers()["brickell-mazda"] == []


def test_revoked_key_gets_401(roadster: Roadster) -> None:
    assert requests.delete(f"{roadster.control}/keys/{KEY}", timeout=10).status_code == 200
    assert roadster.post(body()).json() == {"status": "error", "error": "API key revoked"}


def test_create_customer_answers_as_documented(roadster: Roadster) -> None:
    resp = roadster.post(body())
    assert resp.status_code == 200
    data = resp.json()
    assert set(data) == {"status", "customer"}  # no "duplicate" on a new customer
    assert data["status"] == "ok"
    assert isinstance(data["customer"]["id"], int)
    ucid = data["customer"]["id"]
    assert (
        data["customer"]["redirect_url"] == f"{roadster.root}/roadster/stores/brickell-mazda/express/{VIN}?ucid={ucid}"
    )
    [stored] = roadster.customers()["brickell-mazda"]
    assert (stored["id"], stored["email"], stored["first_name"], stored["phone"]) == (
        ucid,
        "ralf4@testing.zz",
        "Ralph",
        "800-555-1234",
    )
    assert stored["submissions"][0]["vehicle"] == {"vin": VIN, "make": "Mazda", "model": "MX-5 Miata", "year": "2019"}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"vehicle": {"vin": VIN}}, "Missing customer"),
        (body(customer={"first_name": "Ralph", "last_name": "Dorfin"}), "Missing email"),
        (body(customer={"first_name": "Ralph", "last_name": "Dorfin", "email": "  "}), "Missing email"),
        (body(customer={"last_name": "Dorfin", "email": "a@b.zz"}), "Missing first_name"),
        (body(customer={"first_name": "Ralph", "email": "a@b.zz"}), "Missing last_name"),
        (body(customer={"first_name": "R", "last_name": "D", "email": "not-an-email"}), "Invalid email"),
        (body(customer={"first_name": "R", "last_name": "D", "email": "a@b.zz", "phone": 8005551234}),
         "Invalid phone: must be a string"),
        (body(vehicle={"vin": VIN, "year": 2019}), "Invalid vehicle.year: must be a string"),
        (body(vehicle={"model": "MX-5 Miata"}), "Missing make"),
        (body(vehicle=["not", "an", "object"]), "Invalid vehicle"),
        (body(dealer={}), "Missing dealer partner_id or dpid"),
        (body(dealer={"dpid": "99999"}), "Unknown dealer"),
        ([1, 2], "Invalid JSON body"),
    ],
)  # fmt: skip
def test_documented_400s_change_nothing(roadster: Roadster, payload: Any, error: str) -> None:
    resp = roadster.post(payload)
    assert resp.status_code == 400
    assert resp.json() == {"status": "error", "error": error}
    assert all(rows == [] for rows in roadster.customers().values())


def test_body_that_is_not_json_is_a_400(roadster: Roadster) -> None:
    resp = requests.post(
        f"{roadster.root}/roadster/v1/customers", data=b"{nope", headers={"Authorization": KEY}, timeout=10
    )
    assert (resp.status_code, resp.json()) == (400, {"status": "error", "error": "Invalid JSON body"})


def test_same_email_at_same_dealer_is_a_duplicate(roadster: Roadster) -> None:
    first = roadster.post(body()).json()
    again = roadster.post(body(email="RALF4@Testing.zz", customer=None) | {"customer": {
        "first_name": "Ralphie", "last_name": "Dorfin", "email": " RALF4@testing.ZZ "}}).json()  # fmt: skip
    assert again["status"] == "ok" and again["duplicate"] is True
    assert again["customer"]["id"] == first["customer"]["id"]

    elsewhere = roadster.post(body(dealer={"dpid": "2002"})).json()
    assert "duplicate" not in elsewhere
    assert elsewhere["customer"]["id"] != first["customer"]["id"]
    assert "/stores/coral-ford/" in elsewhere["customer"]["redirect_url"]

    customers = roadster.customers()
    [mazda] = customers["brickell-mazda"]
    assert mazda["first_name"] == "Ralph"  # the first record stands
    assert [s["duplicate"] for s in mazda["submissions"]] == [False, True]
    assert len(customers["coral-ford"]) == 1


@pytest.mark.parametrize(
    ("dealer", "lands_at", "stored_partner_id"),
    [
        ({"partner_id": "51101"}, "brickell-mazda", "51101"),  # registered partner id selects
        ({"dpid": "2002"}, "coral-ford", None),
        ({"partner_id": "unregistered-7"}, "brickell-mazda", "unregistered-7"),  # data only: key's dealer
        ({"dpid": "2002", "partner_id": "51101"}, "coral-ford", "51101"),  # dpid wins
        (None, "brickell-mazda", None),  # no dealer object: the key's dealer
    ],
)
def test_dealer_selection(roadster: Roadster, dealer: Any, lands_at: str, stored_partner_id: str | None) -> None:
    resp = roadster.post(body(dealer=dealer))
    assert resp.status_code == 200, resp.text
    [customer] = roadster.customers()[lands_at]
    assert customer["submissions"][0]["dealerPartnerId"] == stored_partner_id


def test_without_a_default_dealer_the_dealer_is_required(roadster: Roadster) -> None:
    requests.post(f"{roadster.control}/keys", json={"key": "rd_no_dealer"}, timeout=10)
    assert roadster.post(body(dealer=None), auth="rd_no_dealer").json()["error"] == "Missing dealer"
    assert roadster.post(body(dealer={"partner_id": "x"}), auth="rd_no_dealer").json()["error"] == "Unknown dealer"


def test_redirect_url_logs_the_customer_in(roadster: Roadster) -> None:
    created = roadster.post(body()).json()["customer"]
    landing = requests.get(created["redirect_url"], headers=JSON, timeout=10)
    assert landing.status_code == 200
    seen = landing.json()
    assert (seen["via"], seen["vin"], seen["pricing_unlocked"]) == ("ucid", VIN, True)
    assert seen["customer"]["email"] == "ralf4@testing.zz"
    # The same customer id on another dealer's storefront is nobody.
    other = requests.get(roadster.store("coral-ford", query=f"?ucid={created['id']}"), headers=JSON, timeout=10)
    assert (other.status_code, other.json()["error"]) == (404, "Unknown customer")


def test_redirect_url_without_a_vin_is_a_search_page(roadster: Roadster) -> None:
    vehicle = {"make": "Mazda", "model": "MX-5 Miata", "year": "2019"}
    url = roadster.post(body(vehicle=vehicle)).json()["customer"]["redirect_url"]
    assert url.startswith(
        f"{roadster.root}/roadster/stores/brickell-mazda/express?make=Mazda&model=MX-5+Miata&year=2019"
    )
    assert requests.get(url, headers=JSON, timeout=10).json()["pricing_unlocked"] is True


def test_unknown_routes_and_methods_answer_in_roadster_shape(roadster: Roadster) -> None:
    missing = requests.get(f"{roadster.root}/roadster/v1/dealers", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"status": "error", "error": "Not Found"})
    wrong = requests.get(f"{roadster.root}/roadster/v1/customers", timeout=10)
    assert (wrong.status_code, wrong.json()) == (405, {"status": "error", "error": "Method Not Allowed"})


# =========================================================================== Express links


@pytest.mark.parametrize("cipher_key", [KEY32, KEY16], ids=["32-byte-key", "hashed-key"])
@pytest.mark.parametrize("double_encode", [False, True], ids=["to_query", "encoded-query"])
def test_express_link_made_with_openssl_shows_who_arrived(
    roadster: Roadster, cipher_key: str, double_encode: bool
) -> None:
    dealer = "brickell-mazda" if cipher_key == KEY32 else "coral-ford"
    person = {"fname": "Zoë", "lname": "O'Neil & Co", "email": "zoe+cars@example.org", "phone": "+14155556666"}
    person["custid"] = "lead-42"
    token = openssl_token(cipher_key, build_query(person, double_encode=double_encode), os.urandom(16))
    url = roadster.store(dealer, query="?" + urlencode({"mem": token}))  # CGI.escape equivalent

    seen = requests.get(url, headers=JSON, timeout=10)
    assert seen.status_code == 200, seen.text
    arrival = seen.json()
    assert arrival["decrypted"] == person
    assert arrival["plaintext_form"] == ("encoded" if double_encode else "query")
    assert (arrival["via"], arrival["pricing_unlocked"], arrival["duplicate"]) == ("mem", True, False)
    assert arrival["lead"] == {"type": "unlock_inquiry"}
    [customer] = roadster.customers()[dealer]
    assert (customer["email"], customer["first_name"], customer["partner_id"]) == (person["email"], "Zoë", "lead-42")


def test_sandbox_encryption_matches_openssl_vectors() -> None:
    iv = bytes(range(16, 32))
    plaintext = b"fname=Testing&lname=Bot&email=testing%40roadster.com&phone=800-505-1000"
    for key in (KEY32, KEY16):
        assert encrypt_token(key, plaintext, iv) == "".join(openssl_token(key, plaintext, iv).split())


def test_express_link_from_the_control_route_round_trips(roadster: Roadster) -> None:
    made = requests.post(
        f"{roadster.control}/express-link",
        json={"dealer": "brickell-mazda", "vin": VIN, "customer": {"fname": "Testing", "email": "t@roadster.com"}},
        timeout=10,
    ).json()
    assert made["url"].startswith(roadster.store("brickell-mazda") + "?mem=")
    assert requests.get(made["url"], headers=JSON, timeout=10).json()["customer"]["first_name"] == "Testing"


def test_link_then_api_lead_is_one_customer(roadster: Roadster) -> None:
    """Roadster down → Forecourt hands out a link; the API lead that follows is a duplicate."""
    person = {"fname": "Ralph", "lname": "Dorfin", "email": "ralf4@testing.zz"}
    token = openssl_token(KEY32, build_query(person), os.urandom(16))
    arrived = requests.get(
        roadster.store("brickell-mazda", query=f"?mem={quote(token, safe='')}"), headers=JSON, timeout=10
    )
    later = roadster.post(body()).json()
    assert later["duplicate"] is True
    assert later["customer"]["id"] == arrived.json()["customer"]["id"]
    assert len(roadster.customers()["brickell-mazda"]) == 1


def html_token(token: str) -> str:
    return quote(token, safe="")


@pytest.mark.parametrize(
    ("dealer", "mem", "status", "error"),
    [
        ("coral-ford", lambda: html_token(openssl_token(KEY32, b"email=a%40b.zz", os.urandom(16))), 400,
         "Invalid mem token: mem token does not decrypt with this dealer's key (bad padding)"),
        ("brickell-mazda", lambda: openssl_token(KEY32, b"email=a%40b.zz&fname=Jo", b"\xfb" * 16).replace("\n", ""),
         400, "Invalid mem token: mem token contains spaces: it was not URL-escaped (CGI.escape) before use"),
        ("brickell-mazda", lambda: html_token(openssl_token(KEY32, b"fname=NoEmail", os.urandom(16))), 400,
         "Missing email"),
        ("brickell-mazda", lambda: "not-base64!", 400, "Invalid mem token: mem token is not Base64"),
        ("brickell-mazda", lambda: html_token(base64.b64encode(b"short").decode()), 400,
         "Invalid mem token: mem token is not IV + AES-256-CBC ciphertext (wrong length)"),
        ("keyless-kia", lambda: "abc", 400, "This storefront has no encryption key configured"),
        ("nowhere", lambda: "abc", 404, "Unknown storefront"),
    ],
    ids=["wrong-key", "not-url-escaped", "no-email", "not-base64", "too-short", "no-key", "unknown-store"],
)  # fmt: skip
def test_express_link_errors(roadster: Roadster, dealer: str, mem: Callable[[], str], status: int, error: str) -> None:
    resp = requests.get(roadster.store(dealer, query=f"?mem={mem()}"), headers=JSON, timeout=10)
    assert (resp.status_code, resp.json()) == (status, {"status": "error", "error": error})
    assert all(rows == [] for rows in roadster.customers().values())


def test_express_page_is_html_for_browsers(roadster: Roadster) -> None:
    person = {"fname": "<b>Eve</b>", "lname": "Bot", "email": "eve@example.org"}
    token = openssl_token(KEY32, build_query(person), os.urandom(16))
    page = requests.get(roadster.store("brickell-mazda", query=f"?mem={html_token(token)}"), timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Welcome, &lt;b&gt;Eve&lt;/b&gt; Bot" in page.text and "Pricing unlocked" in page.text
    anonymous = requests.get(roadster.store("brickell-mazda"), timeout=10)
    assert "Welcome, guest" in anonymous.text and "Pricing locked" in anonymous.text
    arrivals = requests.get(f"{roadster.control}/arrivals", timeout=10).json()["arrivals"]
    assert [a["via"] for a in arrivals] == ["mem", "anonymous"]


# =========================================================================== switches, CLI


def test_outage_switch_takes_api_and_storefronts_down(roadster: Roadster) -> None:
    assert requests.post(f"{roadster.control}/switches", json={"outage": True}, timeout=10).status_code == 200
    down = roadster.post(body())
    assert (down.status_code, down.json()) == (503, {"status": "error", "error": "Service Unavailable"})
    assert down.headers["Retry-After"] == "30"
    assert requests.get(roadster.store("brickell-mazda"), headers=JSON, timeout=10).status_code == 503
    requests.post(f"{roadster.control}/switches", json={"outage": False}, timeout=10)
    assert roadster.post(body()).status_code == 200
    assert len(roadster.customers()["brickell-mazda"]) == 1


def test_latency_switch_overrides_the_shared_setting(roadster: Roadster, sandbox: SandboxServer) -> None:
    switches = requests.post(f"{roadster.control}/switches", json={"latencyMs": 400}, timeout=10).json()
    assert switches["effective"]["latencyMs"] == 400
    with pytest.raises(requests.ReadTimeout):
        # What a client with a short wait sees. The body is invalid so that the request, which
        # completes after this test, cannot add a customer to the next test's state.
        roadster.post(body(email=" "), timeout=0.1)
    # Carzle is untouched by Roadster's switch.
    assert requests.get(f"{sandbox.root}/_sandbox/config", timeout=10).json()["latency_ms"] == 0
    bad = requests.post(f"{roadster.control}/switches", json={"latencyMs": -1, "nope": 1}, timeout=10)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"latencyMs", "nope"}


def test_fault_rate_fails_before_anything_is_stored(roadster: Roadster) -> None:
    requests.post(f"{roadster.control}/switches", json={"faultRate": 1}, timeout=10)
    resp = roadster.post(body())
    assert resp.status_code in (500, 502, 503) and resp.json()["status"] == "error"
    assert roadster.customers()["brickell-mazda"] == []


def test_cli_flags_seed_dealers_and_keys() -> None:
    args = build_parser().parse_args(
        ["--roadster-dealer", f"acme-auto:777:{KEY16}", "--roadster-key", "rd_cli:acme-auto"]
    )
    from sandbox.app import create_sandbox_app, get_registry

    settings = settings_from_args(args, {})
    state = get_registry(create_sandbox_app(settings)).marketplaces["roadster"].state  # type: ignore[attr-defined]
    dealer = state.find_dealer("acme-auto")
    assert (dealer.partner_id, dealer.cipher_key) == ("777", KEY16)
    assert state.keys["rd_cli"].dealer == dealer.dpid
    defaults = settings_from_args(build_parser().parse_args([]), {})
    assert defaults.roadster_keys == ["rd_test_demo:demo-motors"]
