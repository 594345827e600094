"""The shared rate budget and the circuit breaker, on a real Redis."""

from __future__ import annotations

import pytest

from app.sync.breaker import THRESHOLD, Breaker
from app.sync.budget import Limits, RateBudget
from app.sync.transport import clamp_reset, parse_reset

NOW = 1_800_000_000.0


@pytest.fixture
def budget(redis_client):
    return RateBudget(redis_client, "test-key", Limits(reads=60, writes=3, window=10))


def test_writes_are_granted_until_the_window_is_spent(budget):
    grants = [budget.acquire("write", now=NOW + i * 0.1) for i in range(4)]
    assert [g for g, _ in grants] == [True, True, True, False]
    assert grants[-1][1] == NOW + 10  # told when to come back, not made to sleep
    assert budget.acquire("write", now=NOW + 10)[0] is True  # a new window


def test_refused_callers_are_spread_over_the_next_window(budget):
    for _ in range(3):
        budget.acquire("write", now=NOW)
    places = [budget.acquire("write", now=NOW + 1)[1] for _ in range(4)]
    # 3 writes per 10 s window: waiters spread over it instead of all waking at the reset.
    assert places == pytest.approx([NOW + 10, NOW + 10 + 10 / 3, NOW + 10 + 20 / 3, NOW + 10])
    assert budget.acquire("read", now=NOW)[0] is True  # reads have their own budget


@pytest.mark.parametrize(
    ("header_remaining", "header_reset", "expect_remaining", "expect_reset"),
    [
        (0, NOW - 1, 2, NOW + 10),  # a slow response from an ended window: ignored
        (1, NOW + 10, 1, NOW + 10),  # same window: only ever lowered
        (5, NOW + 10, 2, NOW + 10),  # same window: never raised by a stale count
        (1, NOW + 4, 1, NOW + 4),  # the marketplace's window ends sooner: adopt it
        (3, NOW + 30, 3, NOW + 30),  # the marketplace rolled over first: adopt both
    ],
)
def test_headers_correct_the_local_window(budget, redis_client, header_remaining, header_reset, expect_remaining,
                                          expect_reset):
    budget.acquire("write", now=NOW)  # opens a local window: 2 left until NOW + 10
    budget.observe("write", header_remaining, header_reset, now=NOW + 0.5)
    state = redis_client.hgetall("fc:budget:test-key:write")
    assert int(float(state[b"remaining"])) == expect_remaining
    assert float(state[b"reset"]) == expect_reset


def test_a_429_holds_reads_and_writes_until_the_reset(budget):
    budget.hold_until(NOW + 7, now=NOW)
    assert budget.acquire("read", now=NOW + 1) == (False, NOW + 7)
    assert budget.acquire("write", now=NOW + 1) == (False, NOW + 7)
    assert budget.acquire("write", now=NOW + 1)[1] > NOW + 7  # the next waiter is spread out


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (str(int(NOW + 20)), NOW + 20),  # epoch seconds
        (str(int((NOW + 20) * 1000)), NOW + 20),  # epoch milliseconds
        ("20", NOW + 20),  # seconds from now
        ("0", NOW + 1),  # a past or zero reset never means "retry at once"
        (str(int(NOW - 50)), NOW + 1),
        (str(int(NOW + 600)), NOW + 600),  # ten minutes away: honoured, not cut to two windows
        ("840", NOW + 840),
        ("900", NOW + 900),  # exactly the maximum
        ("901", NOW + 900),  # past it: capped at RATE_RESET_MAX_SECONDS
        ("99999999999", NOW + 900),  # absurd: capped
        ("soon", None),
        (None, None),
    ],
)
def test_reset_header_forms(header, expected):
    assert parse_reset(header, NOW) == expected


@pytest.mark.parametrize(
    ("at", "maximum", "expected"),
    [
        (NOW + 30, 900, NOW + 30),
        (NOW + 3600, 900, NOW + 900),
        (NOW + 3600, 300, NOW + 300),
        (NOW - 5, 300, NOW + 1),
        (NOW + 200, 0, NOW + 1),  # a zero maximum still never means "retry at once"
    ],
)
def test_clamp_reset_honours_the_configured_maximum(at, maximum, expected):
    assert clamp_reset(at, NOW, maximum) == expected


def test_clamp_reset_reads_the_maximum_from_settings(app):
    import dataclasses

    settings = app.config["FORECOURT"]
    app.config["FORECOURT"] = dataclasses.replace(settings, rate_reset_max_seconds=60.0)
    try:
        with app.app_context():
            assert clamp_reset(NOW + 3600, NOW) == NOW + 60
    finally:
        app.config["FORECOURT"] = settings


def test_breaker_opens_then_lets_one_probe_through(redis_client):
    breaker = Breaker(redis_client, 99)
    for _ in range(THRESHOLD - 1):
        assert breaker.failure(NOW) is None
        assert breaker.wait_until(NOW) is None
    until = breaker.failure(NOW)
    assert breaker.wait_until(NOW + 1) == until  # open: everyone waits
    assert breaker.wait_until(until + 1) is None  # half-open: the probe goes
    assert breaker.wait_until(until + 1) == until + 1 + 5  # the others wait for it
    reopened = breaker.failure(until + 2)  # the probe failed: open again at once, longer
    assert reopened - (until + 2) > until - NOW
    breaker.success()
    assert breaker.wait_until(reopened + 1) is None
    assert breaker.wait_until(reopened + 1) is None  # closed again: no probe needed
