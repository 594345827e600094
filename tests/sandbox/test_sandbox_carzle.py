"""The Carzle sandbox against the published Carzle Dealer API rules, over real HTTP.

Each test names the documented rule it checks. Fixtures: ``tests/sandbox/conftest.py``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from sandbox.__main__ import build_parser, settings_from_args
from sandbox.app import create_sandbox_app, get_registry
from sandbox.carzle import CDN_BASE, STATUSES, CarzleSandbox, lookup_vehicle_spec
from sandbox.common import KeySpec, SandboxSettings, SettingsError
from tests.sandbox.harness import KEYS, Api, ImageServer, SandboxServer

REQUEST_ID = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")
ApiFactory = Callable[..., Api]
_OMIT = object()  # pass as a car() override to drop that key from the payload


def car(**overrides: Any) -> dict[str, Any]:
    """A valid create payload (the docs' quick-start car, minus images)."""
    body: dict[str, Any] = {
        "externalRef": "p1m_sku_1234",
        "status": "active",
        "make": "Toyota",
        "model": "Land Cruiser",
        "year": 2024,
        "title": "2024 Toyota Land Cruiser GR Sport",
        "price": 385000,
        "kilometers": 12000,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not _OMIT}


def assert_envelope(resp: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The documented error envelope, exactly, with a requestId matching X-Request-Id."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert {"code", "message", "fields", "requestId"} <= set(err)
    assert set(err) - {"code", "message", "fields", "requestId"} <= {"existingId"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["fields"], dict)
    assert REQUEST_ID.match(err["requestId"]), err["requestId"]
    assert resp.headers["X-Request-Id"] == err["requestId"]
    return err


def create(api: Api, **overrides: Any) -> dict[str, Any]:
    resp = api.post("/listings", json=car(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


# =========================================================================== auth & scopes


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing Authorization"),
        ({"Authorization": "Bearer cz_live_unknown"}, "Invalid API key"),
        ({"Authorization": f"Basic {KEYS['full']}"}, "Invalid API key"),
        ({"Authorization": "Bearer "}, "Invalid API key"),
    ],
    ids=["missing", "unknown", "wrong-scheme", "empty-token"],
)
def test_unauthenticated_requests_get_401(api: ApiFactory, headers: dict[str, str], message: str) -> None:
    resp = api(None).get("/me", headers=headers)
    err = assert_envelope(resp, 401, "unauthorized")
    assert message in err["message"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_keys_get_401(api: ApiFactory, control: Api) -> None:
    assert control.delete(f"/keys/{KEYS['rw']}").status_code == 200
    assert "revoked" in assert_envelope(api("rw").get("/me"), 401, "unauthorized")["message"]

    made = control.post("/keys", json={"showroom": "alpha", "expiresInSeconds": 0.2})
    assert made.status_code == 201
    key = made.json()["key"]
    assert api(raw=key).get("/me").status_code == 200
    time.sleep(0.25)
    assert "expired" in assert_envelope(api(raw=key).get("/me"), 401, "unauthorized")["message"]


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("ro", "GET", "/me", 200),
        ("ro", "GET", "/metadata", 200),
        ("ro", "GET", "/contacts", 200),
        ("ro", "GET", "/listings", 200),
        ("ro", "GET", "/listings/{id}", 200),
        ("ro", "GET", "/listings/by-ref/p1m_sku_1234", 200),
        ("ro", "POST", "/listings", 403),
        ("ro", "PATCH", "/listings/{id}", 403),
        ("ro", "PATCH", "/listings/by-ref/p1m_sku_1234", 403),
        ("ro", "DELETE", "/listings/{id}", 403),
        ("rw", "POST", "/listings", 409),  # scope passes; the ref already exists
        ("rw", "PATCH", "/listings/{id}", 200),
        ("rw", "DELETE", "/listings/{id}", 403),
        ("rw", "DELETE", "/listings/by-ref/p1m_sku_1234", 403),
        ("full", "DELETE", "/listings/by-ref/p1m_sku_1234", 200),
    ],
)
def test_scopes(api: ApiFactory, who: str, method: str, path: str, status: int) -> None:
    listing = create(api())
    body = car() if method == "POST" else ({"price": 1000} if method == "PATCH" else None)
    resp = api(who).request(method, path.replace("{id}", listing["id"]), json=body)
    assert resp.status_code == status, resp.text
    if status == 403:
        err = assert_envelope(resp, 403, "forbidden")
        assert "listings:" in err["message"]


def test_me_reports_key_showroom_and_quota(api: ApiFactory, sandbox: SandboxServer) -> None:
    client = api("rw")
    first = client.get("/me").json()
    assert first["showroom"]["name"] == "Alpha"
    assert first["key"]["scopes"] == ["listings:read", "listings:write"]
    assert KEYS["rw"] not in str(first["key"])  # only a prefix of the secret is echoed
    assert (first["rateLimits"]["read"]["limit"], first["rateLimits"]["read"]["remaining"]) == (60, 59)
    assert first["rateLimits"]["read"]["reset"] > time.time()
    assert first["rateLimits"]["write"]["remaining"] == 30
    second = client.get("/me").json()
    assert second["rateLimits"]["read"]["remaining"] == 58


# =========================================================================== listings CRUD


def test_create_get_patch_delete_cycle(api: ApiFactory, sandbox: SandboxServer) -> None:
    client = api()
    resp = client.post("/listings", json=car(trim="GR Sport", chassisNumber="JTMHV05J604123456"))
    assert resp.status_code == 201
    listing = resp.json()
    assert resp.headers["Location"].endswith(f"/listings/{listing['id']}")
    assert re.fullmatch(r"[0-9a-f-]{36}", listing["id"])
    assert listing["externalRef"] == "p1m_sku_1234"
    assert listing["status"] == "active"
    assert listing["chassisNumber"] == "JTMHV05J604123456"
    assert listing["createdAt"].endswith("Z") and listing["deletedAt"] is None

    assert client.get(f"/listings/{listing['id']}").json() == listing
    assert client.get("/listings/by-ref/p1m_sku_1234").json() == listing

    patched = client.patch("/listings/by-ref/p1m_sku_1234", json={"price": 379000})
    assert patched.status_code == 200
    assert patched.json()["price"] == 379000
    assert patched.json()["title"] == listing["title"]  # PATCH leaves unsent fields alone
    assert patched.json()["updatedAt"] > listing["updatedAt"]

    by_id = client.patch(f"/listings/{listing['id']}", json={"status": "sold"}).json()
    assert (by_id["status"], by_id["price"]) == ("sold", 379000)

    deleted = client.delete(f"/listings/{listing['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["deletedAt"] is not None

    # Soft-deleted: gone from every read, kept in state.
    assert_envelope(client.get(f"/listings/{listing['id']}"), 404, "not_found")
    assert_envelope(client.get("/listings/by-ref/p1m_sku_1234"), 404, "not_found")
    assert_envelope(client.patch(f"/listings/{listing['id']}", json={"price": 1}), 404, "not_found")
    assert_envelope(client.delete(f"/listings/{listing['id']}"), 404, "not_found")
    assert client.get("/listings").json()["pagination"]["total"] == 0
    assert sandbox.carzle.get_listing(listing["id"])["deletedAt"] is not None

    # The ref is free again after a soft delete.
    again = create(client)
    assert again["id"] != listing["id"]
    assert client.get("/listings/by-ref/p1m_sku_1234").json()["id"] == again["id"]


def test_delete_by_ref_and_unknown_ids(api: ApiFactory) -> None:
    client = api()
    create(client, externalRef="wp_post_77")
    assert client.delete("/listings/by-ref/wp_post_77").status_code == 200
    assert_envelope(client.delete("/listings/by-ref/wp_post_77"), 404, "not_found")
    assert_envelope(client.get("/listings/not-a-uuid"), 404, "not_found")
    assert_envelope(client.delete("/listings/00000000-0000-4000-8000-000000000000"), 404, "not_found")


def test_refs_may_contain_slashes_and_spaces(api: ApiFactory) -> None:
    client = api()
    create(client, externalRef="stock/A 12")
    assert client.get("/listings/by-ref/stock/A%2012").json()["externalRef"] == "stock/A 12"


def test_listings_are_per_showroom(api: ApiFactory) -> None:
    mine = create(api())
    other = api("beta")
    assert_envelope(other.get(f"/listings/{mine['id']}"), 404, "not_found")
    assert_envelope(other.patch(f"/listings/{mine['id']}", json={"price": 1}), 404, "not_found")
    assert other.get("/listings").json()["pagination"]["total"] == 0
    # externalRef is unique per showroom, not globally.
    assert other.post("/listings", json=car()).status_code == 201


def test_post_without_status_or_ref(api: ApiFactory) -> None:
    listing = create(api(), status=_OMIT, externalRef=_OMIT)
    assert listing["status"] == "active"
    assert listing["externalRef"] == ""


def test_malformed_json_is_400(api: ApiFactory) -> None:
    resp = api().post("/listings", data=b"{not json", headers={"Content-Type": "application/json"})
    assert_envelope(resp, 400, "bad_request")
    assert_envelope(api().post("/listings", json=[car()]), 400, "bad_request")


# =========================================================================== 409 conflict


def test_duplicate_ref_on_post_is_409_with_existing_id(api: ApiFactory, sandbox: SandboxServer) -> None:
    client = api()
    first = create(client)
    resp = client.post("/listings", json=car(price=1))
    err = assert_envelope(resp, 409, "conflict")
    assert err["existingId"] == first["id"]
    assert first["id"] in err["fields"]["externalRef"]
    assert len(sandbox.carzle.listings("alpha")) == 1
    # The documented recovery: retry as PATCH by ref.
    assert client.patch("/listings/by-ref/p1m_sku_1234", json={"price": 1}).status_code == 200


def test_patch_to_a_taken_ref_is_409_and_own_ref_is_fine(api: ApiFactory) -> None:
    client = api()
    a = create(client, externalRef="a")
    b = create(client, externalRef="b")
    err = assert_envelope(client.patch(f"/listings/{b['id']}", json={"externalRef": "a"}), 409, "conflict")
    assert err["existingId"] == a["id"]
    assert client.get(f"/listings/{b['id']}").json()["externalRef"] == "b"
    assert client.patch(f"/listings/{b['id']}", json={"externalRef": "b"}).status_code == 200


def test_concurrent_posts_with_one_ref_create_one_listing(api: ApiFactory, sandbox: SandboxServer) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(lambda _: api().post("/listings", json=car()).status_code, range(8)))
    assert codes == [201] + [409] * 7
    assert len(sandbox.carzle.listings("alpha")) == 1


# =========================================================================== 422 validation


def _long_ref() -> str:
    return "x" * 256


CREATE_422_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    *[
        (f"missing-{name}", {name: _OMIT}, name, "is required")
        for name in ("make", "model", "year", "kilometers", "price", "title")
    ],
    ("enum-status", {"status": "published"}, "status", "must be one of: active, inactive"),
    ("enum-transmission", {"transmission": "Automatic"}, "transmission", "must be one of"),
    ("enum-fuel", {"fuelType": "Gasoline"}, "fuelType", "must be one of"),
    ("enum-body", {"bodyType": "SUV"}, "bodyType", "must be one of"),
    ("enum-specs", {"regionalSpecs": "gcc"}, "regionalSpecs", "must be one of: GCC"),
    ("empty-status", {"status": ""}, "status", "must be one of"),
    ("empty-make", {"make": ""}, "make", "must not be empty"),
    ("blank-title", {"title": "   "}, "title", "must not be empty"),
    ("empty-ref", {"externalRef": ""}, "externalRef", "must not be empty"),
    ("empty-color", {"exteriorColor": ""}, "exteriorColor", "must not be empty"),
    ("null-description", {"description": None}, "description", "must not be null"),
    ("null-price", {"price": None}, "price", "must not be null"),
    ("null-status", {"status": None}, "status", "must not be null"),
    ("null-images", {"imageUrls": None}, "imageUrls", "must not be null"),
    ("type-year", {"year": "2024"}, "year", "must be an integer"),
    ("type-price", {"price": "385000"}, "price", "must be a number"),
    ("type-km", {"kilometers": 12.5}, "kilometers", "must be an integer"),
    ("type-bool-km", {"kilometers": True}, "kilometers", "must be an integer"),
    ("type-doors", {"doors": "4"}, "doors", "must be an integer"),
    ("type-flag", {"financeAvailable": "yes"}, "financeAvailable", "must be a boolean"),
    ("type-hp", {"horsepower": 620}, "horsepower", "must be a string"),
    ("price-limit", {"price": 50_000_000}, "price", "must be less than 50000000"),
    ("price-over", {"price": 75_000_000.5}, "price", "must be less than 50000000"),
    ("price-zero", {"price": 0}, "price", "must be greater than 0"),
    ("price-negative", {"price": -5}, "price", "must be greater than 0"),
    ("year-old", {"year": 1800}, "year", "must be between 1900 and"),
    ("year-future", {"year": datetime.now(UTC).year + 5}, "year", "must be between 1900 and"),
    ("ref-too-long", {"externalRef": _long_ref()}, "externalRef", "at most 255 characters"),
    ("features-flat", {"features": ["Sunroof"]}, "features.0", "must be an object"),
    ("features-not-list", {"features": "Sunroof"}, "features", "must be an array"),
    (
        "features-category",
        {"features": [{"name": "Sunroof", "category": "luxury"}]},
        "features.0.category",
        "must be one of: safety, entertainment, comfort, exterior",
    ),
    ("features-no-name", {"features": [{"category": "comfort"}]}, "features.0.name", "is required"),
    ("images-not-list", {"imageUrls": "https://x.example/1.jpg"}, "imageUrls", "must be an array"),
    ("images-flat", {"imageUrls": ["https://x.example/1.jpg"]}, "imageUrls.0", "must be an object"),
    ("images-no-url", {"imageUrls": [{"isHero": True}]}, "imageUrls.0.url", "is required"),
    ("images-relative", {"imageUrls": [{"url": "/1.jpg"}]}, "imageUrls.0.url", "absolute http(s)"),
    ("images-ftp", {"imageUrls": [{"url": "ftp://x.example/1.jpg"}]}, "imageUrls.0.url", "absolute http(s)"),
    ("images-bad-port", {"imageUrls": [{"url": "http://x.example:99999/1.jpg"}]}, "imageUrls.0.url", "absolute"),
    ("images-bad-ipv6", {"imageUrls": [{"url": "http://[::1/1.jpg"}]}, "imageUrls.0.url", "absolute http(s)"),
    (
        "images-hero-type",
        {"imageUrls": [{"url": "https://x.example/1.jpg", "isHero": "yes"}]},
        "imageUrls.0.isHero",
        "must be a boolean",
    ),
    ("unknown-field", {"mileage": 12000}, "mileage", "unknown field"),
    ("read-only-field", {"id": "abc"}, "id", "is read-only"),
    ("unknown-make", {"make": "Zastava"}, "make", "unknown make"),
    ("unknown-model", {"model": "Corolla Cross X"}, "model", "not a known model of Toyota"),
    (
        "unknown-contact",
        {"contactId": "00000000-0000-4000-8000-000000000000"},
        "contactId",
        "contact not found in this showroom",
    ),
    ("empty-contact", {"contactId": ""}, "contactId", "must not be empty"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [case[1:] for case in CREATE_422_CASES],
    ids=[case[0] for case in CREATE_422_CASES],
)
def test_create_validation_failures(
    api: ApiFactory, sandbox: SandboxServer, overrides: dict[str, Any], field: str, message: str
) -> None:
    resp = api().post("/listings", json=car(**overrides))
    err = assert_envelope(resp, 422, "validation_failed")
    assert err["message"] == "One or more fields are invalid."
    assert field in err["fields"], err["fields"]
    assert message in err["fields"][field]
    assert sandbox.carzle.listings("alpha", include_deleted=True) == []


def test_price_limit_message_is_exact(api: ApiFactory) -> None:
    err = assert_envelope(api().post("/listings", json=car(price=50_000_000)), 422, "validation_failed")
    assert err["fields"] == {"price": "must be less than 50000000"}
    assert api().post("/listings", json=car(price=49_999_999)).status_code == 201


def test_all_field_errors_are_reported_together(api: ApiFactory) -> None:
    resp = api().post("/listings", json={"make": "Toyota", "status": "", "price": 50_000_000})
    err = assert_envelope(resp, 422, "validation_failed")
    assert set(err["fields"]) == {"model", "year", "kilometers", "title", "status", "price"}


def test_contact_from_another_showroom_is_422(api: ApiFactory) -> None:
    beta_contact = api("beta").get("/contacts").json()["contacts"][0]["id"]
    err = assert_envelope(api().post("/listings", json=car(contactId=beta_contact)), 422, "validation_failed")
    assert err["fields"] == {"contactId": "contact not found in this showroom"}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"price": None}, "price"),
        ({"status": "archived"}, "status"),
        ({"title": ""}, "title"),
        ({"price": 50_000_000}, "price"),
        ({"externalRef": ""}, "externalRef"),
        ({"model": "Civic"}, "model"),
    ],
)
def test_patch_validation_failures_change_nothing(api: ApiFactory, patch: dict[str, Any], field: str) -> None:
    client = api()
    listing = create(client)
    err = assert_envelope(client.patch(f"/listings/{listing['id']}", json=patch), 422, "validation_failed")
    assert field in err["fields"]
    assert client.get(f"/listings/{listing['id']}").json() == listing


def test_patch_accepts_partial_bodies_and_case_insensitive_catalog(api: ApiFactory) -> None:
    client = api()
    listing = create(client, make="toyota", model="LAND  cruiser")
    assert (listing["make"], listing["model"]) == ("Toyota", "Land Cruiser")
    patched = client.patch(f"/listings/{listing['id']}", json={"make": "BMW", "model": "3 series"})
    assert (patched.json()["make"], patched.json()["model"]) == ("BMW", "3 Series")


# =========================================================================== images


def test_images_are_fetched_and_stored_as_cdn_urls(
    api: ApiFactory, sandbox: SandboxServer, image_server: ImageServer
) -> None:
    a, b = image_server.url("/img/a.jpg"), image_server.url("/img/c.png")
    listing = create(api(), imageUrls=[{"url": a}, {"url": b, "isHero": True}])
    images = listing["imageUrls"]
    digest = hashlib.sha256(image_server.files["/img/a.jpg"][1]).hexdigest()
    assert images[0] == {"url": f"{CDN_BASE}/{digest}.webp", "sourceUrl": a, "isHero": False}
    assert images[1]["isHero"] is True and images[1]["url"].endswith(".webp")
    assert sandbox.carzle.image_fetch_count(a) == 1
    assert sandbox.carzle.image_fetch_count(b) == 1
    assert image_server.hits["/img/a.jpg"] == 1
    assert sandbox.carzle.key_stats(KEYS["full"])["imageFetches"] == 2


def test_first_image_is_hero_when_none_is_marked(api: ApiFactory, image_server: ImageServer) -> None:
    urls = [image_server.url("/img/a.jpg"), image_server.url("/img/b.jpg")]
    listing = create(api(), imageUrls=[{"url": u} for u in urls])
    assert [i["isHero"] for i in listing["imageUrls"]] == [True, False]


def test_two_heroes_are_rejected(api: ApiFactory, image_server: ImageServer) -> None:
    url = image_server.url("/img/a.jpg")
    body = car(imageUrls=[{"url": url, "isHero": True}, {"url": url, "isHero": True}])
    err = assert_envelope(api().post("/listings", json=body), 422, "validation_failed")
    assert "isHero" in err["fields"]["imageUrls"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/img/missing.jpg", "Source download failed: HTTP 404"),
        ("/status/500", "Source download failed: HTTP 500"),
        ("/img/text.jpg", "not a supported image"),
        ("/img/huge.png", "40 megapixel"),
    ],
)
def test_failed_image_means_no_listing(
    api: ApiFactory, sandbox: SandboxServer, image_server: ImageServer, path: str, message: str
) -> None:
    body = car(imageUrls=[{"url": image_server.url("/img/a.jpg")}, {"url": image_server.url(path)}])
    err = assert_envelope(api().post("/listings", json=body), 422, "validation_failed")
    assert list(err["fields"]) == ["imageUrls.1"]
    assert message in err["fields"]["imageUrls.1"]
    assert sandbox.carzle.listings("alpha", include_deleted=True) == []


def test_image_error_and_field_error_in_one_response(api: ApiFactory, image_server: ImageServer) -> None:
    # The exact shape of the documented error example.
    body = car(price=50_000_000, imageUrls=[{"url": image_server.url("/img/nope.jpg")}])
    err = assert_envelope(api().post("/listings", json=body), 422, "validation_failed")
    assert err["fields"] == {"price": "must be less than 50000000", "imageUrls.0": "Source download failed: HTTP 404"}


def test_failed_image_on_patch_leaves_listing_unchanged(api: ApiFactory, image_server: ImageServer) -> None:
    client = api()
    listing = create(client, imageUrls=[{"url": image_server.url("/img/a.jpg")}])
    body = {"price": 1000, "imageUrls": [{"url": image_server.url("/img/gone.jpg")}]}
    assert_envelope(client.patch(f"/listings/{listing['id']}", json=body), 422, "validation_failed")
    assert client.get(f"/listings/{listing['id']}").json() == listing


def test_redirects_are_followed_and_every_send_refetches(
    api: ApiFactory, sandbox: SandboxServer, image_server: ImageServer
) -> None:
    client = api()
    url = image_server.url("/redirect/b.jpg")
    listing = create(client, imageUrls=[{"url": url}])
    assert listing["imageUrls"][0]["sourceUrl"] == url
    client.patch(f"/listings/{listing['id']}", json={"imageUrls": [{"url": url}]})
    assert sandbox.carzle.image_fetch_count(url) == 2
    assert sandbox.carzle.image_fetch_count(image_server.url("/img/b.jpg")) == 2
    client.patch(f"/listings/{listing['id']}", json={"price": 999})  # no imageUrls: no fetch
    assert sandbox.carzle.image_fetch_count(url) == 2


def test_https_required_by_default(
    api: ApiFactory, control: Api, sandbox: SandboxServer, image_server: ImageServer
) -> None:
    assert control.post("/config", json={"require_https_images": True}).status_code == 200
    url = image_server.url("/img/a.jpg")
    err = assert_envelope(api().post("/listings", json=car(imageUrls=[{"url": url}])), 422, "validation_failed")
    assert err["fields"] == {"imageUrls.0": "Source URL rejected: HTTPS is required"}
    assert sandbox.carzle.image_fetch_count(url) == 0


def test_private_hosts_rejected_by_default(
    api: ApiFactory, control: Api, sandbox: SandboxServer, image_server: ImageServer
) -> None:
    control.post("/config", json={"allow_private_image_hosts": False})
    url = image_server.url("/img/a.jpg")
    err = assert_envelope(api().post("/listings", json=car(imageUrls=[{"url": url}])), 422, "validation_failed")
    assert "private or reserved address" in err["fields"]["imageUrls.0"]
    assert image_server.hits["/img/a.jpg"] == 0


def test_image_timeout(api: ApiFactory, control: Api, image_server: ImageServer) -> None:
    control.post("/config", json={"image_timeout_seconds": 0.2})
    body = car(imageUrls=[{"url": image_server.url("/slow/0.6")}])
    err = assert_envelope(api().post("/listings", json=body), 422, "validation_failed")
    assert err["fields"]["imageUrls.0"] == "Source download failed: timed out"


def test_fetching_can_be_disabled(
    api: ApiFactory, control: Api, sandbox: SandboxServer, image_server: ImageServer
) -> None:
    control.post("/config", json={"fetch_images": False})
    url = image_server.url("/img/never-served.jpg")
    listing = create(api(), imageUrls=[{"url": url}])
    assert listing["imageUrls"][0]["url"].startswith(CDN_BASE)
    assert sandbox.carzle.image_fetch_count(url) == 0 and image_server.hits == {}


# =========================================================================== error envelope


def _trigger(kind: str, api: ApiFactory, control: Api, image_server: ImageServer) -> requests.Response:
    client = api()
    if kind == "400":
        return client.post("/listings", data=b"[", headers={"Content-Type": "application/json"})
    if kind == "401":
        return api(None).get("/listings")
    if kind == "403":
        return api("ro").post("/listings", json=car())
    if kind == "404":
        return client.get("/listings/by-ref/nothing-here")
    if kind == "404-route":
        return client.get("/no-such-endpoint")
    if kind == "405":
        return client.request("PUT", "/listings", json=car())
    if kind == "409":
        create(client)
        return client.post("/listings", json=car())
    if kind == "422":
        return client.post("/listings", json={})
    if kind == "422-image":
        return client.post("/listings", json=car(imageUrls=[{"url": image_server.url("/x.jpg")}]))
    if kind == "429":
        control.post("/config", json={"read_limit": 1})
        client.get("/listings")
        return client.get("/listings")
    if kind == "5xx":
        control.post("/config", json={"fault_rate": 1.0})
        return client.get("/listings")
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("400", 400, "bad_request"),
        ("401", 401, "unauthorized"),
        ("403", 403, "forbidden"),
        ("404", 404, "not_found"),
        ("404-route", 404, "not_found"),
        ("405", 405, "method_not_allowed"),
        ("409", 409, "conflict"),
        ("422", 422, "validation_failed"),
        ("422-image", 422, "validation_failed"),
        ("429", 429, "rate_limited"),
        ("5xx", None, None),
    ],
)
def test_every_error_has_the_envelope_and_rate_headers(
    api: ApiFactory, control: Api, image_server: ImageServer, kind: str, status: int | None, code: str | None
) -> None:
    resp = _trigger(kind, api, control, image_server)
    if status is None:
        status = resp.status_code
        assert status in (500, 502, 503)
        code = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}[status]
    assert code is not None
    assert_envelope(resp, status, code)
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert resp.headers[header].isdigit(), header


def test_request_ids_are_unique_and_on_success_too(api: ApiFactory, control: Api) -> None:
    ids = {api().get("/me").headers["X-Request-Id"] for _ in range(5)}
    ids.add(control.get("/stats").headers["X-Request-Id"])
    assert len(ids) == 6 and all(REQUEST_ID.match(i) for i in ids)


# =========================================================================== rate limits


def test_rate_limit_headers_count_down_per_bucket(api: ApiFactory) -> None:
    client = api()
    r1, r2 = client.get("/listings"), client.get("/listings")
    assert (r1.headers["X-RateLimit-Limit"], r1.headers["X-RateLimit-Remaining"]) == ("60", "59")
    assert r2.headers["X-RateLimit-Remaining"] == "58"
    reset = int(r1.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    w = client.post("/listings", json=car())
    assert (w.headers["X-RateLimit-Limit"], w.headers["X-RateLimit-Remaining"]) == ("30", "29")
    # Validation failures still spend quota.
    bad = client.post("/listings", json={})
    assert bad.headers["X-RateLimit-Remaining"] == "28"


def test_429_on_breach_then_fresh_window(api: ApiFactory, control: Api, sandbox: SandboxServer) -> None:
    control.post("/config", json={"rate_window_seconds": 1.0, "read_limit": 3, "write_limit": 2})
    client, other = api(), api("beta")
    codes = [client.get("/me").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    blocked = client.get("/listings")
    err = assert_envelope(blocked, 429, "rate_limited")
    assert "3 read requests" in err["message"]
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 2
    # Writes have their own bucket; other keys are unaffected.
    assert client.post("/listings", json=car()).status_code == 201
    assert other.get("/me").status_code == 200
    assert sandbox.carzle.key_stats(KEYS["full"])["rateLimited"] == 1

    reset = int(blocked.headers["X-RateLimit-Reset"])
    time.sleep(max(0.0, min(1.1, reset - time.time() + 0.02)))
    fresh = client.get("/me")
    assert fresh.status_code == 200
    assert fresh.headers["X-RateLimit-Remaining"] == "2"


def test_write_limit(api: ApiFactory, control: Api) -> None:
    control.post("/config", json={"write_limit": 2})
    client = api()
    assert client.post("/listings", json=car(externalRef="a")).status_code == 201
    assert client.post("/listings", json=car(externalRef="b")).status_code == 201
    resp = client.delete("/listings/by-ref/a")
    assert_envelope(resp, 429, "rate_limited")
    assert resp.headers["X-RateLimit-Limit"] == "2"


# =========================================================================== list, filters, pagination


def _seed(sandbox: SandboxServer, n: int, start: datetime, **fields: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        stamp = start + timedelta(hours=i)
        rows.append(
            sandbox.carzle.create_listing(
                sandbox.carzle.find_showroom("alpha").id,
                car(externalRef=f"ref-{i:02d}", title=f"Car {i}", **fields),
                created_at=stamp,
                updated_at=stamp,
            )
        )
    return rows


def test_updated_since_and_pagination(api: ApiFactory, sandbox: SandboxServer) -> None:
    start = datetime(2026, 4, 1, tzinfo=UTC)
    rows = _seed(sandbox, 7, start)
    client = api()

    page = client.get("/listings", params={"limit": 3}).json()
    assert page["pagination"] == {"total": 7, "limit": 3, "offset": 0}
    assert [r["id"] for r in page["listings"]] == [r["id"] for r in rows[:3]]
    last = client.get("/listings", params={"limit": 3, "offset": 6}).json()
    assert [r["id"] for r in last["listings"]] == [rows[6]["id"]]
    assert client.get("/listings", params={"offset": 50}).json()["listings"] == []

    since = client.get("/listings", params={"updatedSince": "2026-04-01T04:00:00Z"}).json()
    assert [r["externalRef"] for r in since["listings"]] == ["ref-04", "ref-05", "ref-06"]
    offset = client.get("/listings", params={"updatedSince": "2026-04-01T08:00:00+04:00"}).json()
    assert offset["pagination"]["total"] == 3

    # An edit moves a listing into the delta.
    client.patch("/listings/by-ref/ref-01", json={"price": 1000})
    delta = client.get("/listings", params={"updatedSince": "2026-04-01T04:00:00Z"}).json()
    assert "ref-01" in [r["externalRef"] for r in delta["listings"]]
    assert delta["pagination"]["total"] == 4


def test_default_and_maximum_page_size(api: ApiFactory, sandbox: SandboxServer) -> None:
    _seed(sandbox, 105, datetime(2026, 1, 1, tzinfo=UTC))
    client = api()
    assert client.get("/listings").json()["pagination"] == {"total": 105, "limit": 50, "offset": 0}
    assert len(client.get("/listings", params={"limit": 100}).json()["listings"]) == 100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"updatedSince": "yesterday"}, "updatedSince"),
        ({"updatedSince": "2026-04-01T00:00:00"}, "updatedSince"),  # no zone
        ({"status": "archived"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_bad_list_parameters(api: ApiFactory, params: dict[str, str], field: str) -> None:
    err = assert_envelope(api().get("/listings", params=params), 422, "validation_failed")
    assert field in err["fields"]


def test_status_and_external_ref_filters(api: ApiFactory, control: Api) -> None:
    client = api()
    create(client, externalRef="a", status="sold")
    create(client, externalRef="b", status="active")
    dash = control.post("/listings", json={"showroom": "alpha", **car(externalRef=_OMIT)})
    assert dash.status_code == 201
    sold = client.get("/listings", params={"status": "sold"}).json()["listings"]
    assert [r["externalRef"] for r in sold] == ["a"]
    by_ref = client.get("/listings", params={"externalRef": "b"}).json()["listings"]
    assert [r["externalRef"] for r in by_ref] == ["b"]
    unadopted = client.get("/listings", params={"externalRef": ""}).json()["listings"]
    assert [r["id"] for r in unadopted] == [dash.json()["id"]]


def test_adopting_a_dashboard_listing(api: ApiFactory, control: Api, sandbox: SandboxServer) -> None:
    """The FAQ's adoption flow: list, PATCH {externalRef} by UUID, then sync by ref."""
    seeded = control.post("/listings", json={"showroom": "alpha", **car(externalRef=_OMIT)}).json()
    assert seeded["externalRef"] == "" and seeded["source"] == "dashboard"
    client = api()
    listing = client.get("/listings").json()["listings"][0]
    assert listing["externalRef"] == ""
    assert client.patch(f"/listings/{listing['id']}", json={"externalRef": "p1m_sku_9"}).status_code == 200
    assert client.patch("/listings/by-ref/p1m_sku_9", json={"status": "inactive"}).json()["id"] == listing["id"]
    assert sandbox.carzle.get_listing(listing["id"])["status"] == "inactive"


# =========================================================================== enrichment


def test_enrichment_fills_missing_specs_on_post(api: ApiFactory, sandbox: SandboxServer) -> None:
    listing = create(api(), trim="GR Sport")
    expected = lookup_vehicle_spec("Toyota", "Land Cruiser", "GR Sport")
    assert expected is not None
    for name, value in expected.items():
        assert listing[name] == value, name
    assert listing["horsepower"] == "409 HP"
    assert set(sandbox.carzle.get_listing(listing["id"])["enrichedFields"]) == set(expected)


def test_dealer_values_win(api: ApiFactory) -> None:
    listing = create(api(), trim="GR Sport", horsepower="620 HP", seating=7, fuelType="diesel")
    assert (listing["horsepower"], listing["seating"], listing["fuelType"]) == ("620 HP", 7, "diesel")
    assert listing["cylinders"] == "6"  # unsent fields are still filled


@pytest.mark.parametrize(
    ("make", "model", "trim", "horsepower"),
    [
        ("BMW", "3 Series", "320d", "190 HP"),
        ("Volkswagen", "Golf", "GTI", "245 HP"),
        ("Honda", "Accord", None, "192 HP"),
        ("Toyota", "Land Cruiser", "Unknown Trim", "271 HP"),  # trimless fallback
        ("Toyota", "Camry", None, None),  # not in the VDB: stays null
    ],
)
def test_enrichment_lookup(api: ApiFactory, make: str, model: str, trim: str | None, horsepower: str | None) -> None:
    listing = create(api(), make=make, model=model, trim=trim if trim else _OMIT)
    assert listing["horsepower"] == horsepower


def test_patch_never_enriches(api: ApiFactory) -> None:
    client = api()
    listing = create(client, make="Toyota", model="Camry")
    assert listing["engineCapacity"] is None
    patched = client.patch(f"/listings/{listing['id']}", json={"model": "Land Cruiser", "trim": "GR Sport"}).json()
    assert patched["engineCapacity"] is None and patched["horsepower"] is None
    # ...nor overwrites a dealer's manual edit.
    enriched = create(client, externalRef="lc", trim="GR Sport")
    edited = client.patch(f"/listings/{enriched['id']}", json={"horsepower": "415 HP"}).json()
    assert edited["horsepower"] == "415 HP" and edited["engineCapacity"] == "3.5L"


# =========================================================================== faults & latency


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_fault_rate_one_fails_before_mutating(
    api: ApiFactory, control: Api, sandbox: SandboxServer, image_server: ImageServer, method: str
) -> None:
    client = api()
    listing = create(client, externalRef="existing")
    control.post("/config", json={"fault_rate": 1.0})
    url = image_server.url("/img/a.jpg")
    path = "/listings" if method == "POST" else f"/listings/{listing['id']}"
    body = {"POST": car(imageUrls=[{"url": url}]), "PATCH": {"price": 1}, "DELETE": None}[method]
    resp = client.request(method, path, json=body)
    assert resp.status_code in (500, 502, 503)
    assert_envelope(resp, resp.status_code, resp.json()["error"]["code"])
    assert sandbox.carzle.listings("alpha") == [sandbox.carzle.get_listing(listing["id"])]
    assert sandbox.carzle.get_listing(listing["id"])["updatedAt"] == listing["updatedAt"]
    assert sandbox.carzle.image_fetch_count(url) == 0
    assert sandbox.carzle.key_stats(KEYS["full"])["faults"] == 1


def test_faults_are_deterministic_with_a_seed(api: ApiFactory, control: Api) -> None:
    control.post("/config", json={"fault_rate": 0.5, "seed": 7})

    def run() -> list[int]:
        return [api().get("/me").status_code for _ in range(12)]

    first = run()
    assert {200} < set(first)  # some succeed, some fail
    control.post("/reset")  # reseeds from the configured seed
    assert run() == first


def test_latency(api: ApiFactory, control: Api) -> None:
    control.post("/config", json={"latency_ms": 150})
    started = time.monotonic()
    assert api().get("/me").status_code == 200
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    control.get("/stats")  # control API is never slowed down
    assert time.monotonic() - started < 0.15


# =========================================================================== contacts & metadata


def test_contacts_and_assignment(api: ApiFactory, control: Api) -> None:
    client = api()
    contacts = client.get("/contacts").json()["contacts"]
    assert len(contacts) == 2
    assert set(contacts[0]) == {"id", "name", "phone", "whatsapp", "email", "isDefault"}
    assert [c["isDefault"] for c in contacts] == [True, False]

    added = control.post("/contacts", json={"showroom": "alpha", "name": "Aisha Khan", "phone": "+971501234567"}).json()
    assert added["id"] in {c["id"] for c in client.get("/contacts").json()["contacts"]}

    listing = create(client, contactId=added["id"])
    assert listing["contactId"] == added["id"]
    cleared = client.patch(f"/listings/{listing['id']}", json={"contactId": None}).json()
    assert cleared["contactId"] is None
    assert create(client, externalRef="n", contactId=None)["contactId"] is None


def test_metadata(api: ApiFactory, sandbox: SandboxServer) -> None:
    resp = api("ro").get("/metadata")
    assert resp.status_code == 200
    meta = resp.json()
    assert meta["enums"]["status"] == list(STATUSES)
    assert set(meta["enums"]) == {"status", "transmission", "fuelType", "bodyType", "regionalSpecs", "featureCategory"}
    assert meta["enums"]["featureCategory"] == ["safety", "entertainment", "comfort", "exterior"]
    makes = {m["name"]: m["models"] for m in meta["makes"]}
    assert "Land Cruiser" in makes["Toyota"] and "3 Series" in makes["BMW"]
    assert all(f["category"] in meta["enums"]["featureCategory"] for f in meta["features"])
    assert meta["fields"]["price"]["exclusiveMaximum"] == 50_000_000
    assert meta["fields"]["make"]["required"] is True
    assert "max-age=3600" in resp.headers["Cache-Control"]

    api("ro").get("/metadata")
    assert sandbox.carzle.metadata_calls(KEYS["ro"]) == 2
    assert sandbox.carzle.metadata_calls(KEYS["full"]) == 0


# =========================================================================== control API


def test_stats_over_http(api: ApiFactory, control: Api) -> None:
    client = api()
    listing = create(client)
    client.get(f"/listings/{listing['id']}")
    client.get("/metadata")
    stats = control.get("/stats").json()["carzle"]["keys"][KEYS["full"]]
    assert stats["posts"] == 1 and stats["metadataCalls"] == 1
    assert stats["requests"][f"GET /listings/{listing['id']}"] == 1
    assert stats["routes"]["GET /listings/{id}"] == 1
    assert stats["statusCodes"] == {"201": 1, "200": 2}
    assert control.get("/carzle/stats").json()["listings"]["live"] == 1


def test_control_keys_config_and_reset(api: ApiFactory, control: Api, sandbox: SandboxServer) -> None:
    made = control.post("/carzle/keys", json={"key": "cz_test_new", "showroom": "gamma", "scopes": ["listings:read"]})
    assert made.status_code == 201 and made.json()["scopes"] == ["listings:read"]
    assert api(raw="cz_test_new").get("/me").json()["showroom"]["name"] == "Gamma"
    assert_envelope(control.post("/keys", json={"showroom": "x", "scopes": ["admin"]}), 422, "validation_failed")

    bad = assert_envelope(control.post("/config", json={"fault_rate": 2, "nope": 1}), 422, "validation_failed")
    assert set(bad["fields"]) == {"fault_rate", "nope"}
    assert control.get("/config").json()["fault_rate"] == 0.0
    aliased = control.post("/config", json={"window": 2, "faultRate": 0.25, "latencyMs": 0}).json()
    assert (aliased["rate_window_seconds"], aliased["fault_rate"]) == (2.0, 0.25)
    control.post("/config", json={"fault_rate": 0})

    create(api())
    assert control.post("/reset").status_code == 200
    assert sandbox.carzle.listings() == []
    assert api(raw="cz_test_new").get("/me").status_code == 401  # runtime keys are dropped
    assert api().get("/me").status_code == 200  # seed keys come back
    assert control.get("").json()["marketplaces"] == ["auterio", "carslink", "carzle"]


def test_healthz_and_unknown_root_paths(sandbox: SandboxServer) -> None:
    assert requests.get(sandbox.root + "/healthz", timeout=5).json()["status"] == "ok"
    resp = requests.get(sandbox.root + "/api/v1/me", timeout=5)
    assert_envelope(resp, 404, "not_found")  # Carzle lives only under /carzle


# =========================================================================== units (no HTTP)


def test_state_object_works_without_flask() -> None:
    state = CarzleSandbox(SandboxSettings(fetch_images=False, carzle_keys=["k:room:*"]))
    room = state.find_showroom("room")
    assert room is not None
    created = state.create_listing(room.id, car())
    assert state.get_listing(created["id"])["showroom"] == "room"
    assert state.delete_listing(room.id, ref="p1m_sku_1234")["deletedAt"] is not None
    assert state.listings("room") == []


def test_settings_validation_and_key_specs() -> None:
    with pytest.raises(SettingsError):
        SandboxSettings(fault_rate=1.5)
    s = SandboxSettings(rate_window_seconds=1)
    assert s.update({"rate_window_seconds": 0.5}) == {"rate_window_seconds"}
    assert KeySpec.parse("k:room:listings:read,listings:write").scopes == ("listings:read", "listings:write")
    assert KeySpec.parse("k:room").scopes == ("*",)
    with pytest.raises(ValueError):
        KeySpec.parse("just-a-key")


def test_cli_arguments() -> None:
    args = build_parser().parse_args(
        ["--port", "0", "--window", "5", "--fault-rate", "0.2", "--insecure-images", "--key", "a:r1:*"]
    )
    settings = settings_from_args(args, {"SANDBOX_KEYS": "b:r2:listings:read; c:r3"})
    assert [k.key for k in settings.carzle_keys] == ["a", "b", "c"]
    assert settings.rate_window_seconds == 5.0 and settings.fault_rate == 0.2
    assert not settings.require_https_images and settings.allow_private_image_hosts
    default = settings_from_args(build_parser().parse_args([]), {})
    assert default.carzle_keys[0].key == "cz_test_demo" and default.require_https_images
    app = create_sandbox_app(settings)
    assert {k["key"] for k in get_registry(app).carzle.key_snapshot()} == {"a", "b", "c"}
