"""Property: whatever a dealer types into a car's fields, an accepted event either syncs or
shows field errors on the car. No job fails for good because of odd data, and nothing 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Queue
from rq.registry import FailedJobRegistry

from app.extensions import redis_store
from app.jobs.queues import QUEUES
from tests.conftest import ADMIN_TOKEN
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, standard_headers

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# What dealers really type, plus anything at all.
_typed = st.sampled_from(["", " ", "N/A", "Call", "0", "-1", "1e9", "25,000 km", "٢٠٢٤", "£28,995", "€ 1.234,56",
                          "2024.5", "null", "\u00a0", "Ünïcødé ✓", "🚗", "1" * 40, "<b>bold</b>", "x" * 600])
_value = _typed | st.text(max_size=60)
_car = st.fixed_dictionaries({}, optional={
    "price": _value, "odometer": _value, "year": _value, "make": _value, "model": _value,
    "vin": _value, "trim": _value, "color": _value, "transmission": _value, "fuel": _value,
    "availability": _value, "body_style": _value,
})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cars=st.lists(_car, min_size=1, max_size=6))
def test_any_typed_values_sync_or_show_field_errors(app, client, site, carzle, cars):
    carzle.registry.reset()
    accepted = []
    for index, overrides in enumerate(cars):
        post_id = 700 + index
        body = encode(inventory_presser_post(post_id, **overrides))
        response = client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body))
        assert response.status_code < 500, response.get_data()[:300]
        if response.status_code == 202:
            accepted.append(post_id)
    drain(app, timeout=60)

    for post_id in accepted:
        car = client.get(f"/api/v1/sites/demo/cars/{post_id}", headers=ADMIN).get_json()
        for dest in car.get("destinations", []):
            if dest["status"] == "error":
                assert dest["lastError"]["fields"] or car["mappingErrors"], car
            else:
                assert dest["status"] in ("synced", "not_listed"), car
    failed = {name: FailedJobRegistry(queue=Queue(name, connection=redis_store.client)).count for name in QUEUES}
    assert not any(failed.values()), failed
