"""A dealer site with a Roadster destination on the sandbox (real HTTP), and a listed car."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.support.wordpress import standard_headers

ROADSTER_KEY = "rd_test_forecourt"
CIPHER_KEY = base64.b64encode(bytes(range(32))).decode()
DEALER = "brickell-mazda"
PARTNER_ID = "51101"
VIN = "JM1NDAM77K0306400"


@dataclass
class RoadsterSandbox:
    url: str

    @property
    def control(self) -> str:
        return f"{self.url}/_sandbox/roadster"

    def switches(self, **changes: Any) -> None:
        assert requests.post(f"{self.control}/switches", json=changes, timeout=10).status_code == 200

    def customers(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.control}/customers", params={"dealer": DEALER}, timeout=10).json()[
            "customers"][DEALER]

    def arrivals(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.control}/arrivals", timeout=10).json()["arrivals"]


@pytest.fixture
def roadster(sandbox_server) -> RoadsterSandbox:
    sandbox_server.registry.reset()
    sandbox = RoadsterSandbox(sandbox_server.url)
    made = requests.post(f"{sandbox.control}/dealers", timeout=10, json={
        "slug": DEALER, "name": "Brickell Mazda", "partnerId": PARTNER_ID, "encryptionKey": CIPHER_KEY})
    assert made.status_code == 201, made.text
    assert requests.post(f"{sandbox.control}/keys", json={"key": ROADSTER_KEY, "dealer": DEALER},
                         timeout=10).status_code == 201
    sandbox.switches(outage=False, latencyMs=0, faultRate=0)
    return sandbox


def site_toml(roadster_url: str, *, site_extra: str = "", dest_extra: str = "") -> str:
    from tests.support.wordpress import SECRET

    return f"""
[[sites]]
id = "demo"
name = "Demo Motors"
webhook_secret = "{SECRET}"
preset = "inventory-presser"
{site_extra}

  [[sites.destinations]]
  marketplace = "roadster"
  base_url = "{roadster_url}/roadster"
  api_key = "{ROADSTER_KEY}"
  encryption_key = "{CIPHER_KEY}"
  dealer_partner_id = "{PARTNER_ID}"
  storefront_url = "{roadster_url}/roadster/stores/{DEALER}"
{dest_extra}
"""


def load_site(toml: str) -> None:
    from app.sites import cache, config_file

    config_file.apply(config_file.parse(toml, {}))
    cache.clear()


@pytest.fixture
def lead_site(app, roadster):
    """Site ``demo`` with a Roadster destination and car 101 (a 2019 Mazda MX-5 Miata)."""
    from app.extensions import db
    from app.listings.models import Car

    load_site(site_toml(roadster.url))
    db.session.add(Car(site_id="demo", car_ref="101", source="wordpress", status="active",
                       vehicle={"vin": VIN, "make": "Mazda", "model": "MX-5 Miata", "year": 2019}))
    db.session.commit()
    return roadster


def lead_body(**overrides: Any) -> dict[str, Any]:
    """The companion plugin's body for an enquiry about car 101."""
    body: dict[str, Any] = {
        "submission_id": str(uuid.uuid4()), "first_name": "Amira", "last_name": "Haddad",
        "email": "amira.haddad@example.test", "phone": "+1 415 555 2671", "message": "Is it still available?",
        "car": {"post_id": 101, "vin": VIN, "stock_number": "STK-101"},
        "source_url": "https://demo.example/cars/101", "submitted_at": "2026-12-06T08:00:00+00:00",
    }
    body.update(overrides)
    return body


def post_lead(client, body: dict[str, Any], site: str = "demo", webhook_id: str | None = None):
    raw = json.dumps(body).encode()
    headers = standard_headers(raw, webhook_id=webhook_id or f"lead_{body.get('submission_id', uuid.uuid4())}")
    return client.post(f"/hooks/leads/{site}", data=raw, headers=headers)
