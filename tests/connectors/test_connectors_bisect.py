"""Finding the culprits of a batch refused as a whole, within the documented bound."""

from __future__ import annotations

import math

import pytest

from app.connectors.bisect import Refused, isolate


def remote(bad: set[int], *, names: bool = False):
    """A remote that refuses any group holding a bad item (naming them when ``names``)."""
    sent: list[list[int]] = []

    def send(group: list[int]) -> str:
        sent.append(group)
        culprits = {i: "bad" for i, item in enumerate(group) if item in bad}
        if culprits:
            raise Refused("Invalid payload or no valid vehicles", culprits if names else None)
        return "ok"

    return send, sent


@pytest.mark.parametrize(("n", "bad"), [
    (1000, {0}), (1000, {999}), (1000, {417}), (1000, {3, 4}), (1000, {10, 500, 990}),
    (7, {6}), (2, {0, 1}), (1000, set(range(0, 1000, 100))),
])
def test_every_culprit_is_found_and_every_other_item_delivered(n, bad):
    send, sent = remote(bad)
    items = list(range(n))
    result = isolate(items, Refused("Invalid payload or no valid vehicles"), send, max_requests=10_000)
    assert sorted(item for item, _ in result.culprits) == sorted(bad)
    delivered = sorted(item for group, _ in result.answers for item in group)
    assert delivered == sorted(set(items) - bad)
    assert result.unresolved == []
    # The documented bound: 2·k·⌈log2 n⌉ requests.
    assert result.requests == len(sent) <= 2 * len(bad) * math.ceil(math.log2(n))


def test_the_budget_caps_the_requests_and_leaves_the_rest_unresolved():
    send, sent = remote({1, 300, 600, 900})
    result = isolate(list(range(1000)), Refused("refused"), send, max_requests=12)
    assert len(sent) == result.requests == 12
    decided = {i for i, _ in result.culprits} | {i for g, _ in result.answers for i in g}
    assert decided.isdisjoint(result.unresolved)
    assert decided | set(result.unresolved) == set(range(1000))
    assert {1, 300, 600, 900} <= {i for i, _ in result.culprits} | set(result.unresolved)


def test_a_refusal_that_names_its_culprits_needs_one_more_request():
    send, sent = remote({5, 50}, names=True)
    result = isolate(list(range(100)), Refused("refused", {5: "year", 50: "vin"}), send, max_requests=40)
    assert sorted(result.culprits) == [(5, "year"), (50, "vin")]
    assert len(sent) == 1 and len(sent[0]) == 98


def test_a_zero_budget_sends_nothing():
    send, sent = remote({1})
    result = isolate([0, 1, 2], Refused("refused"), send, max_requests=0)
    assert sent == [] and sorted(result.unresolved) == [0, 1, 2]
