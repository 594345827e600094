"""The lead hook end to end: signed request → validation → Roadster sandbox over real HTTP →
the shopper's answer, with real Redis, a real database and a real RQ worker for the retries."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, text

from tests.leads.conftest import DEALER, PARTNER_ID, VIN, lead_body, post_lead
from tests.support.jobs import drain


def _lead(submission_id: str):
    from app.extensions import db
    from app.leads.models import Lead

    return db.session.scalar(select(Lead).where(Lead.submission_id == submission_id))


def _api_submissions(customer: dict) -> list[dict]:
    return [s for s in customer["submissions"] if s["via"] == "api"]


def test_a_lead_for_a_listed_car_returns_the_sandbox_redirect_url(client, lead_site):
    body = lead_body()
    resp = post_lead(client, body)
    assert resp.status_code == 200, resp.get_json()
    answer = resp.get_json()
    (customer,) = lead_site.customers()
    assert answer["redirect_url"] == f"{lead_site.url}/roadster/stores/{DEALER}/express/{VIN}?ucid={customer['id']}"
    assert answer["duplicate"] is False and answer["status"] == "delivered"
    assert (customer["first_name"], customer["last_name"], customer["email"], customer["phone"]) == (
        "Amira", "Haddad", "amira.haddad@example.test", "+14155552671")
    assert customer["partner_id"] == str(answer["leadId"])  # Forecourt's lead id
    (submission,) = customer["submissions"]
    assert submission["vehicle"] == {"vin": VIN, "make": "Mazda", "model": "MX-5 Miata", "year": "2019"}
    assert submission["dealerPartnerId"] == PARTNER_ID

    lead = _lead(body["submission_id"])
    (delivery,) = lead.deliveries
    assert (delivery.status, delivery.remote_id, delivery.redirect_url, delivery.duplicate) == (
        "synced", str(customer["id"]), answer["redirect_url"], False)
    # The landing page works: the sandbox knows the customer by ucid.
    page = requests.get(answer["redirect_url"], headers={"Accept": "application/json"}, timeout=10).json()
    assert page["pricing_unlocked"] is True and page["customer"]["email"] == "amira.haddad@example.test"


def test_personal_data_is_encrypted_at_rest(client, lead_site):
    from app.extensions import db

    body = lead_body(email="secret.shopper@example.test")
    assert post_lead(client, body).status_code == 200
    row = db.session.execute(text("SELECT person, email_hash FROM leads")).one()
    assert "secret.shopper" not in row.person and "Haddad" not in row.person and "+1415" not in row.person
    assert "secret.shopper" not in row.email_hash
    assert _lead(body["submission_id"]).person["email"] == "secret.shopper@example.test"


def test_the_same_submission_sent_twice_makes_one_customer(app, client, lead_site):
    body = lead_body()
    first, second = post_lead(client, body), post_lead(client, body)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["redirect_url"] == second.get_json()["redirect_url"]
    assert first.get_json()["leadId"] == second.get_json()["leadId"]
    (customer,) = lead_site.customers()
    assert len(customer["submissions"]) == 1  # the second request sent nothing
    drain(app)  # the safety-net job queued with the lead finds it delivered
    assert len(lead_site.customers()[0]["submissions"]) == 1


def test_a_second_submission_by_the_same_shopper_is_recorded_as_duplicate(client, lead_site):
    first = post_lead(client, lead_body())
    again = lead_body(email="Amira.Haddad@Example.test", message="And part-exchange?")
    second = post_lead(client, again)
    assert second.status_code == 200
    assert (first.get_json()["duplicate"], second.get_json()["duplicate"]) == (False, True)
    (delivery,) = _lead(again["submission_id"]).deliveries
    assert delivery.duplicate is True
    (customer,) = lead_site.customers()
    assert [s["duplicate"] for s in customer["submissions"]] == [False, True]


def test_with_roadster_down_the_shopper_gets_an_express_link_and_the_lead_arrives_once(app, client, lead_site):
    lead_site.switches(outage=True)
    body = lead_body()
    resp = post_lead(client, body)
    assert resp.status_code == 202
    answer = resp.get_json()
    link = answer["redirect_url"]
    assert link.startswith(f"{lead_site.url}/roadster/stores/{DEALER}/express/{VIN}?mem=")
    (delivery,) = _lead(body["submission_id"]).deliveries
    assert delivery.status == "retrying" and delivery.last_error["status"] == 503
    assert lead_site.customers() == []

    lead_site.switches(outage=False)
    # The shopper follows the link: the sandbox decrypts it to their details.
    page = requests.get(link, headers={"Accept": "application/json"}, timeout=10).json()
    assert page["decrypted"] == {"fname": "Amira", "lname": "Haddad", "email": "amira.haddad@example.test",
                                 "phone": "+14155552671", "custid": str(answer["leadId"])}
    assert page["pricing_unlocked"] is True
    # Then the retry job delivers the lead, once: Roadster already knows the shopper.
    drain(app)
    from app.extensions import db

    db.session.expire_all()
    (delivery,) = _lead(body["submission_id"]).deliveries
    assert (delivery.status, delivery.duplicate) == ("synced", True)
    (customer,) = lead_site.customers()
    assert len(_api_submissions(customer)) == 1
    drain(app)  # nothing more goes
    assert len(_api_submissions(lead_site.customers()[0])) == 1
    # A re-sent form now gets the landing page.
    again = post_lead(client, body)
    assert again.status_code == 200 and "ucid=" in again.get_json()["redirect_url"]


def test_a_slow_roadster_gets_only_the_wait_then_the_job_finishes(app, client, lead_site):
    from app.extensions import db

    app.config["FORECOURT"] = dataclasses.replace(app.config["FORECOURT"], lead_wait_seconds=0.3)
    lead_site.switches(latencyMs=1500)
    body = lead_body()
    resp = post_lead(client, body)
    assert resp.status_code == 202
    assert "?mem=" in resp.get_json()["redirect_url"]
    lead_site.switches(latencyMs=0)
    drain(app)
    db.session.expire_all()
    (delivery,) = _lead(body["submission_id"]).deliveries
    assert delivery.status == "synced"
    # The timed-out POST may still have reached Roadster: never a second customer either way.
    (customer,) = lead_site.customers()
    assert customer["email"] == "amira.haddad@example.test"


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"email": None}, {"email"}),
        ({"email": "not-an-email"}, {"email"}),
        ({"last_name": "  "}, {"last_name"}),
        ({"first_name": None, "last_name": None}, {"first_name", "last_name"}),
        ({"phone": "12"}, {"phone"}),
        ({"phone": "call me"}, {"phone"}),
    ],
)
def test_invalid_leads_get_422_with_field_errors(client, lead_site, changes, fields):
    body = lead_body()
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    resp = post_lead(client, body)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed" and set(error["fields"]) == fields
    assert lead_site.customers() == []
    assert _lead(body["submission_id"]) is None


@pytest.mark.parametrize(
    ("phone", "region", "e164"),
    [("+971 50 123 4567", None, "+971501234567"), ("(415) 555-2671", None, "+14155552671"),
     ("050 123 4567", "AE", "+971501234567"), ("07400 123456", "GB", "+447400123456")],
)
def test_phones_are_normalised_to_e164(client, lead_site, phone, region, e164):
    from tests.leads.conftest import load_site, site_toml

    if region:
        load_site(site_toml(lead_site.url, site_extra=f'phone_region = "{region}"'))
    body = lead_body(phone=phone)
    assert post_lead(client, body).status_code == 200
    assert _lead(body["submission_id"]).person["phone"] == e164
    assert lead_site.customers()[0]["phone"] == e164


def test_unsigned_or_unknown_site_is_refused(client, lead_site):
    raw = json.dumps(lead_body()).encode()
    assert client.post("/hooks/leads/demo", data=raw).status_code == 401
    assert post_lead(client, lead_body(), site="nope").status_code == 404
    assert lead_site.customers() == []


def test_express_links_from_the_admin_api_and_the_plugin_helper(client, lead_site, admin_headers):
    from tests.support.wordpress import standard_headers

    shopper = {"first_name": "Omar", "last_name": "Saleh", "email": "omar@example.test", "phone": "+14155552671"}
    admin = client.post("/api/v1/sites/demo/express-links", json={**shopper, "car": {"post_id": 101}},
                        headers=admin_headers)
    assert admin.status_code == 200, admin.get_json()
    raw = json.dumps({**shopper, "vin": VIN, "custid": "crm-9"}).encode()
    plugin = client.post("/hooks/leads/demo/express-link", data=raw, headers=standard_headers(raw))
    assert plugin.status_code == 200, plugin.get_json()
    for resp, custid in ((admin, None), (plugin, "crm-9")):
        url = resp.get_json()["url"]
        assert urlsplit(url).path == f"/roadster/stores/{DEALER}/express/{VIN}"
        assert "mem" in parse_qs(urlsplit(url).query)
        page = requests.get(url, headers={"Accept": "application/json"}, timeout=10).json()
        expected = {"fname": "Omar", "lname": "Saleh", "email": "omar@example.test", "phone": "+14155552671"}
        assert page["decrypted"] == ({**expected, "custid": custid} if custid else expected)
    assert client.post("/api/v1/sites/demo/express-links", json=shopper).status_code == 401
    missing = client.post("/api/v1/sites/demo/express-links", json={**shopper, "car": {"post_id": 999}},
                          headers=admin_headers)
    assert missing.status_code == 422 and "vin" in missing.get_json()["error"]["fields"]


def test_a_lead_whose_first_request_died_is_delivered_when_the_form_is_sent_again(client, lead_site, redis_client):
    from app.extensions import db

    body = lead_body()
    lead_site.switches(outage=True)
    assert post_lead(client, body).status_code == 202
    (delivery,) = _lead(body["submission_id"]).deliveries
    delivery.status = "pending"  # as if the web process died after the commit, its job never queued
    db.session.commit()
    redis_client.flushdb()
    lead_site.switches(outage=False)
    again = post_lead(client, body)
    assert again.status_code == 200 and "ucid=" in again.get_json()["redirect_url"]
    assert len(lead_site.customers()) == 1
