"""The one error-message flattener, table-driven over marshmallow-shaped messages."""

from __future__ import annotations

import pytest

from app.messages import flatten_messages, message_lines

CASES = [
    ({"price": ["Not a number."]}, {"price": "Not a number."}, ["price: Not a number."]),
    ({"vehicles": {3: {"vin": ["Missing.", "Too short."]}}},
     {"vehicles.3.vin": "Missing. Too short."},
     ["vehicles.3.vin: Missing.", "vehicles.3.vin: Too short."]),
    ({"_schema": ["Bad body."]}, {"_schema": "Bad body."}, ["_schema: Bad body."]),
    (["Top level."], {"_schema": "Top level."}, ["Top level."]),
    ({"images": [{"url": ["Not https."]}, "x"]}, {"images.0.url": "Not https.", "images.1": "x"},
     ["images.0.url: Not https.", "images.1: x"]),
    ({"status": "unknown"}, {"status": "unknown"}, ["status: unknown"]),
]


@pytest.mark.parametrize(("messages", "flat", "lines"), CASES)
def test_one_flattener_two_shapes(messages, flat, lines):
    assert flatten_messages(messages) == flat
    assert message_lines(messages) == lines
