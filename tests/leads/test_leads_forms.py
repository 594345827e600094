"""Form plugins' bodies → the canonical lead, per site preset and per-site field mapping."""

from __future__ import annotations

import pytest

from app.leads.forms import canonical, field_map
from tests.leads.conftest import load_site, post_lead, site_toml

PERSON = {"first_name": "Amira", "last_name": "Haddad", "email": "amira@example.test", "phone": "+14155552671"}


@pytest.mark.parametrize(
    ("form", "overrides", "body", "expected"),
    [
        ("forecourt", None,
         {"submission_id": "s1", **PERSON, "car": {"post_id": 101, "vin": "V"}},
         {"submission_id": "s1", **PERSON, "car": {"post_id": 101, "vin": "V"}}),
        ("contact-form-7", None,
         {"your-name": "Amira Haddad", "your-email": "amira@example.test", "your-tel": "+14155552671",
          "your-message": "Hi", "_wpcf7_container_post": "101"},
         {**PERSON, "message": "Hi", "car": {"post_id": "101"}}),
        ("gravity-forms", None,
         {"id": "77", "form_id": "3", "1.3": "Amira", "1.6": "Haddad", "2": "amira@example.test",
          "3": "+14155552671", "4": "Hi"},
         {"submission_id": "77", **PERSON, "message": "Hi"}),
        ("gravity-forms", {"car.vin": "5", "phone": "9"},
         {"id": "78", "1.3": "Amira", "1.6": "Haddad", "2": "amira@example.test", "9": "+14155552671", "5": "V"},
         {"submission_id": "78", **PERSON, "car": {"vin": "V"}}),
        ("wpforms", None,
         {"entry_id": 5, "fields": [{"first": "Amira", "last": "Haddad"}, {"value": "amira@example.test"},
                                    {"value": "Hi"}, {"value": "+14155552671"}]},
         {"submission_id": 5, **PERSON, "message": "Hi"}),
        (None, {"email": "contact.mail"},
         {"first_name": "Amira", "last_name": "Haddad", "contact": {"mail": "amira@example.test"}},
         {"first_name": "Amira", "last_name": "Haddad", "email": "amira@example.test"}),
    ],
)
def test_canonical(form, overrides, body, expected):
    assert canonical(body, field_map(form, overrides)) == expected


def test_a_site_on_gravity_forms_takes_its_entries(client, lead_site):
    import json

    from tests.support.wordpress import standard_headers

    load_site(site_toml(lead_site.url, site_extra='lead_form = "gravity-forms"\nlead_fields = {"car.post_id" = "8"}'))
    entry = {"id": "901", "1.3": "Amira", "1.6": "Haddad", "2": "amira@example.test", "3": "+1 415 555 2671",
             "8": "101"}
    raw = json.dumps(entry).encode()
    resp = client.post("/hooks/leads/demo", data=raw, headers=standard_headers(raw))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["submissionId"] == "901"
    (customer,) = lead_site.customers()
    assert customer["submissions"][0]["vehicle"]["model"] == "MX-5 Miata"  # the car was found by post id


def test_a_sender_without_submission_ids_is_keyed_by_its_delivery(client, lead_site):
    body = dict(PERSON, car={"post_id": 101})
    first = post_lead(client, body, webhook_id="msg_one")
    again = post_lead(client, body, webhook_id="msg_one")
    other = post_lead(client, body, webhook_id="msg_two")
    assert first.get_json()["submissionId"] == again.get_json()["submissionId"] == "msg_one"
    assert other.get_json()["submissionId"] == "msg_two" and other.get_json()["duplicate"] is True
