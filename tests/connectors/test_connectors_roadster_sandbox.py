"""The Roadster connector against the Roadster sandbox over real HTTP (no Flask app): the
request body, both documented Authorization forms, duplicates, Roadster's error shapes."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app.connectors.cache import MemoryCache
from app.connectors.errors import FixInput, Reauthenticate, RetryLater
from app.connectors.http import SimpleTransport
from app.connectors.roadster import RoadsterConnector

KEY = "rd_test_connector"
CIPHER = base64.b64encode(b"sixteen byte key").decode()
VIN = "JM1NDAM77K0306400"


@pytest.fixture
def roadster(sandbox) -> Any:
    sandbox.control("POST", "/roadster/dealers", json={"slug": "brickell-mazda", "partnerId": "51101",
                                                        "dpid": "2001", "encryptionKey": CIPHER})
    sandbox.control("POST", "/roadster/dealers", json={"slug": "coral-ford", "dpid": "2002"})
    sandbox.control("POST", "/roadster/keys", json={"key": KEY, "dealer": "coral-ford"})
    return sandbox


def make(roadster, timeout: tuple[float, float] = (3.05, 10), **options: Any) -> RoadsterConnector:
    return RoadsterConnector(base_url=f"{roadster.root}/roadster",
                             credentials={"api_key": KEY, "encryption_key": CIPHER}, options=options,
                             transport=SimpleTransport(timeout=timeout), cache=MemoryCache())


def lead(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": 42, "first_name": "Ralph", "last_name": "Dorfin", "email": "ralf4@testing.zz",
                           "phone": "+18005551234",
                           "vehicle": {"vin": VIN, "make": "Mazda", "model": "MX-5 Miata", "year": 2019}}
    out.update(overrides)
    return out


def customers(roadster, dealer: str) -> list[dict[str, Any]]:
    return roadster.control("GET", "/roadster/customers", params={"dealer": dealer})["customers"][dealer]


@pytest.mark.parametrize(
    ("options", "dealer"),
    [
        ({"auth_scheme": "raw", "dealer_partner_id": "51101"}, "brickell-mazda"),
        ({"auth_scheme": "token", "dealer_dpid": "2001"}, "brickell-mazda"),
        ({}, "coral-ford"),  # no dealer in the body: the key's own dealer
    ],
)
def test_a_lead_becomes_a_customer_at_the_right_dealer(roadster, options, dealer):
    connector = make(roadster, **options)
    result = connector.deliver(lead())
    (customer,) = customers(roadster, dealer)
    assert result.remote_id == str(customer["id"]) and result.duplicate is False
    assert result.landing_url.endswith(f"/roadster/stores/{dealer}/express/{VIN}?ucid={customer['id']}")
    assert customer["partner_id"] == "42"
    assert customer["submissions"][0]["vehicle"] == {"vin": VIN, "make": "Mazda", "model": "MX-5 Miata",
                                                     "year": "2019"}
    assert [call.operation for call in result.calls] == ["create_customer"]


def test_the_same_shopper_again_is_a_duplicate_not_a_second_customer(roadster):
    connector = make(roadster, dealer_partner_id="51101")
    first = connector.deliver(lead())
    second = connector.deliver(lead(id=43, email="RALF4@testing.zz"))
    assert (first.duplicate, second.duplicate, first.remote_id == second.remote_id) == (False, True, True)
    assert len(customers(roadster, "brickell-mazda")) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"email": None}, "email"), ({"last_name": None}, "last_name"), ({"email": "nope"}, "email")],
)
def test_roadster_400s_are_field_errors(roadster, changes, field):
    with pytest.raises(FixInput) as caught:
        make(roadster).deliver(lead(**changes))
    assert caught.value.status == 400 and field in caught.value.fields


@pytest.mark.parametrize(
    ("switches", "error"),
    [({"outage": True}, RetryLater), ({"latencyMs": 800}, RetryLater), ({"faultRate": 1.0}, RetryLater)],
)
def test_outages_and_timeouts_are_retried(roadster, switches, error):
    roadster.control("POST", "/roadster/switches", json=switches)
    with pytest.raises(error) as caught:
        make(roadster, timeout=(1.0, 0.3)).deliver(lead())
    assert caught.value.calls  # the attempt log still gets the call


def test_a_bad_key_pauses(roadster):
    connector = RoadsterConnector(base_url=f"{roadster.root}/roadster",
                                  credentials={"api_key": "rd_wrong", "encryption_key": CIPHER},
                                  options={}, transport=SimpleTransport(), cache=MemoryCache())
    with pytest.raises(Reauthenticate):
        connector.deliver(lead())


@pytest.mark.parametrize(
    ("options", "problem"),
    [({"auth_scheme": "bearer"}, "auth_scheme"), ({"dealer_dpid": 2001}, "dealer_dpid"),
     ({"storefront_url": "brickell.roadster.com"}, "storefront_url")],
)
def test_bad_options_are_named(options, problem):
    assert problem in RoadsterConnector.validate_options(options)


def test_landing_link_needs_a_storefront_and_a_vin(roadster):
    assert make(roadster).landing_link(lead()) is None  # no storefront_url
    connector = make(roadster, storefront_url=f"{roadster.root}/roadster/stores/brickell-mazda")
    assert connector.landing_link(lead(vehicle={})) is None
    link = connector.landing_link(lead())
    page = roadster.http.get(link, headers={"Accept": "application/json"}, timeout=10).json()
    assert page["decrypted"]["email"] == "ralf4@testing.zz" and page["decrypted"]["custid"] == "42"
