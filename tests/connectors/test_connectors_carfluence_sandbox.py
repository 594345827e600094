"""The Carfluence connector against the sandbox over real HTTP, with the real Redis cache."""

from __future__ import annotations

from typing import Any

import pytest

from app.connectors.cache import RedisCache
from app.connectors.carfluence import CarfluenceConnector
from app.connectors.errors import FixInput, Reauthenticate
from app.connectors.http import SimpleTransport
from tests.support.carfluence import EMAIL, KEY, PASSWORD

LOGIN = {"email": EMAIL, "password": PASSWORD}
API_KEY = {"api_key": KEY}


def connector(sandbox: Any, redis_client: Any, credentials: dict[str, str], **options: Any) -> CarfluenceConnector:
    return CarfluenceConnector(base_url=f"{sandbox.root}/carfluence/api/v1", credentials=credentials,
                               options=options, transport=SimpleTransport(timeout=(3, 5)),
                               cache=RedisCache(redis_client))


def setup(sandbox: Any, vehicles: int) -> None:
    sandbox.control("POST", "/carfluence/users", json={**LOGIN, "group": "north"})
    sandbox.control("POST", "/carfluence/keys", json={"key": KEY, "group": "north", "scopes": ["inventory:read"]})
    if vehicles:
        sandbox.control("POST", "/carfluence/vehicles/generate", json={"count": vehicles, "seed": 3, "group": "north"})


def read_all(conn: CarfluenceConnector, after_page: Any = None) -> tuple[list[dict], int]:
    items, cursor, pages = [], None, 0
    while True:
        page = conn.pull(cursor)
        items += page.items
        pages += 1
        if after_page:
            after_page(pages)
        cursor = page.next_cursor
        if cursor is None:
            return items, pages


@pytest.mark.parametrize("credentials", [API_KEY, LOGIN], ids=["cf_live key", "login"])
def test_either_way_of_authenticating_reads_every_page(sandbox, redis_client, credentials) -> None:
    setup(sandbox, 23)
    items, pages = read_all(connector(sandbox, redis_client, credentials, page_size=10))
    assert (len(items), pages) == (23, 3)
    assert len({i["vin"] for i in items}) == 23


def test_the_login_token_is_kept_between_connectors(sandbox, redis_client) -> None:
    setup(sandbox, 5)
    read_all(connector(sandbox, redis_client, LOGIN))
    read_all(connector(sandbox, redis_client, LOGIN))
    assert sandbox.control("GET", "/carfluence/stats")["users"][EMAIL]["logins"] == 1


def test_a_token_that_expires_mid_way_is_refreshed_once(sandbox, redis_client) -> None:
    setup(sandbox, 50)
    conn = connector(sandbox, redis_client, LOGIN, page_size=10)
    sandbox.control("POST", "/carfluence/tokens", json={"expireAfterRequests": 2})
    items, pages = read_all(conn)
    assert (len(items), pages) == (50, 5)
    assert sandbox.control("GET", "/carfluence/stats")["users"][EMAIL]["logins"] == 2
    statuses = [c.status for c in conn.calls]  # the last page's calls: a 200 only
    assert statuses[-1] == 200


def test_a_second_401_is_reauthenticate(sandbox, redis_client) -> None:
    setup(sandbox, 5)
    conn = connector(sandbox, redis_client, {"api_key": "cf_live_unknown"})
    with pytest.raises(Reauthenticate):
        conn.pull()
    with pytest.raises(Reauthenticate):
        connector(sandbox, redis_client, {**LOGIN, "password": "wrong"}).pull()


def test_filters_are_passed_through(sandbox, redis_client) -> None:
    setup(sandbox, 40)
    everything, _ = read_all(connector(sandbox, redis_client, API_KEY))
    makes = {i["make"] for i in everything}
    make = sorted(makes)[0]
    only, _ = read_all(connector(sandbox, redis_client, API_KEY, filters={"make": make}))
    assert only and {i["make"] for i in only} == {make}


@pytest.mark.parametrize(
    ("credentials", "options", "error"),
    [
        ({}, {}, Reauthenticate),
        ({"email": EMAIL}, {}, Reauthenticate),
        (API_KEY, {"filters": {"colour": "red"}}, FixInput),
        (API_KEY, {"page_size": 500}, FixInput),
        (API_KEY, {"max_shrink": 1.5}, FixInput),
    ],
)
def test_bad_credentials_or_options_are_refused_before_any_call(sandbox, redis_client, credentials, options,
                                                                 error) -> None:
    with pytest.raises(error):
        connector(sandbox, redis_client, credentials, **options)


def test_check_credentials_names_the_account(sandbox, redis_client) -> None:
    setup(sandbox, 0)
    assert connector(sandbox, redis_client, LOGIN).check_credentials() == {"name": EMAIL}


@pytest.mark.parametrize(
    ("credentials", "rate_key"),
    [(API_KEY, KEY), (LOGIN, EMAIL), ({**LOGIN, **API_KEY}, KEY)],
    ids=["key", "login", "both: the key wins"],
)
def test_the_budget_is_shared_per_key_or_per_login(credentials, rate_key) -> None:
    assert CarfluenceConnector.rate_key(credentials) == rate_key
