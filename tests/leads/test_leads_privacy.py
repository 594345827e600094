"""Personal data in leads: never logged or sent to Sentry, erased by email, purged after the
retention period, and absent from the car-status API (which shows counts only)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from tests.leads.conftest import lead_body, post_lead
from tests.support.jobs import drain

EMAIL = "private.person@example.test"


class Capture(logging.Handler):
    """Every record, formatted as production formats it (JSON with all extras)."""

    def __init__(self) -> None:
        from app.ops.logging import ContextFilter, JsonFormatter

        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_no_log_line_contains_the_shoppers_email(app, client, lead_site):
    capture = Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        assert post_lead(client, lead_body(email=EMAIL)).status_code == 200  # delivered inline
        lead_site.switches(outage=True)
        assert post_lead(client, lead_body(email=EMAIL)).status_code == 202  # failure path
        lead_site.switches(outage=False)
        drain(app)  # the retry job
        assert post_lead(client, lead_body(email="bad-email")).status_code == 422
    finally:
        root.removeHandler(capture)
        root.setLevel(previous)
    assert any("lead delivered" in line for line in capture.lines)
    assert any("lead delivery failed" in line for line in capture.lines)
    leaked = [line for line in capture.lines if EMAIL in line.lower() or "haddad" in line.lower()
              or "4155552671" in line or "bad-email" in line]
    assert leaked == []


def test_sentry_events_lose_personal_data():
    from app.ops.sentry import FILTERED, before_send

    event = {
        "message": f"delivery failed for {EMAIL}",
        "request": {"url": "https://x.test/express/VIN?mem=abc%2B123&x=1",
                    "data": {"email": EMAIL, "first_name": "Amira", "last_name": "Haddad", "phone": "+14155552671"}},
        "extra": {"fname": "Amira", "lname": "Haddad", "lead": 7},
    }
    scrubbed = before_send(event)
    assert EMAIL not in str(scrubbed) and "Amira" not in str(scrubbed) and "abc%2B123" not in str(scrubbed)
    assert scrubbed["request"]["data"]["email"] == FILTERED and scrubbed["extra"]["lead"] == 7
    assert scrubbed["message"].startswith("delivery failed for ")  # Sentry's own field is kept


def test_erase_by_email_removes_every_lead_of_that_address(client, lead_site, admin_headers):
    from app.extensions import db
    from app.leads.models import Lead, LeadDelivery

    for email in (EMAIL, EMAIL.upper(), "someone.else@example.test"):
        assert post_lead(client, lead_body(email=email)).status_code == 200
    erased = client.post("/api/v1/leads/erase", json={"email": f" {EMAIL} "}, headers=admin_headers)
    assert erased.status_code == 200 and erased.get_json() == {"erased": 2}
    (left,) = db.session.scalars(select(Lead)).all()
    assert left.person["email"] == "someone.else@example.test"
    assert db.session.scalar(select(func.count(LeadDelivery.id))) == 1
    assert client.post("/api/v1/leads/erase", json={"email": EMAIL}).status_code == 401
    assert client.post("/api/v1/leads/erase", json={"email": "nope"}, headers=admin_headers).status_code == 422


def test_leads_past_retention_are_purged_by_the_job(app, client, lead_site):
    from app.extensions import db
    from app.jobs.queues import LOW, queue
    from app.leads.models import Lead
    from app.timeutil import utcnow

    old, recent = lead_body(), lead_body()
    for body in (old, recent):
        assert post_lead(client, body).status_code == 200
    row = db.session.scalar(select(Lead).where(Lead.submission_id == old["submission_id"]))
    row.created_at = utcnow() - timedelta(days=91)
    db.session.commit()
    queue(LOW).enqueue("workers.lead_jobs.purge_leads")
    drain(app)
    db.session.expire_all()
    assert [lead.submission_id for lead in db.session.scalars(select(Lead))] == [recent["submission_id"]]


def test_the_car_status_api_counts_leads_without_personal_data(client, lead_site, admin_headers):
    assert post_lead(client, lead_body(email=EMAIL)).status_code == 200
    assert post_lead(client, lead_body(email=EMAIL)).status_code == 200  # duplicate at Roadster
    lead_site.switches(outage=True)
    assert post_lead(client, lead_body(email="other@example.test")).status_code == 202
    resp = client.get("/api/v1/sites/demo/cars/101", headers=admin_headers)
    assert resp.status_code == 200
    assert resp.get_json()["destinations"] == []  # Roadster takes no cars: it is not a sync destination
    assert resp.get_json()["leads"] == {
        "total": 3, "byDestination": {"roadster": {"delivered": 2, "pending": 1, "failed": 0, "duplicate": 1}}}
    assert EMAIL not in resp.get_data(as_text=True) and "other@example" not in resp.get_data(as_text=True)


def test_operators_erase_and_purge_from_the_shell(app, client, lead_site):
    from app.extensions import db
    from app.leads.models import Lead

    for email in (EMAIL, "someone.else@example.test"):
        assert post_lead(client, lead_body(email=email)).status_code == 200
    runner = app.test_cli_runner()
    erased = runner.invoke(args=["forecourt", "erase-leads", EMAIL, "--site", "demo"])
    assert erased.exit_code == 0 and "erased 1 lead(s)" in erased.output
    purged = runner.invoke(args=["forecourt", "purge-leads", "--days", "0"])
    assert purged.exit_code == 0 and "purged 1 lead(s)" in purged.output
    assert db.session.scalar(select(func.count(Lead.id))) == 0
