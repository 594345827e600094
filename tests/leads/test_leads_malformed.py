"""Whatever a sender posts to the lead hook, signed, gets a 4xx envelope or a stored lead, never
a 5xx: arbitrary JSON in every field the mapping reads."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.wordpress import standard_headers

SCALARS = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=30)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                              max_size=3), max_leaves=8)
FIELDS = ("submission_id", "first_name", "last_name", "email", "phone", "message", "car", "source_url")
BODIES = st.fixed_dictionaries({}, optional={name: VALUES for name in FIELDS}) | VALUES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_any_signed_json_gets_an_answer_not_a_crash(client, lead_site, body):
    raw = json.dumps(body).encode()
    response = client.post("/hooks/leads/demo", data=raw, headers=standard_headers(raw))
    assert response.status_code in (200, 202, 400, 422), (body, response.get_data()[:300])
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] and error["requestId"]
