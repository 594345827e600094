"""The enquiry form on a car page, as an anonymous shopper uses it in Chromium, against the real
lead endpoint (/hooks/leads/<site>) and the Roadster sandbox: the shopper lands in the dealer's
Express Storefront as a known customer; with Forecourt down the shopper is thanked and the lead
waits, signed and complete, in the outbox until Forecourt is back, then arrives once. Other form
plugins hand leads over with do_action('forecourt_submit_lead', ...). A stub on loopback also
proves the redirect over real HTTP without Forecourt."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from werkzeug.wrappers import Request, Response

from tests.conftest import ServerThread
from tests.wordpress import cars, harness, screens
from tests.wordpress import forecourt_live as live


@pytest.fixture
def shopper(tmp_path_factory):
    driver = harness.chromium(tmp_path_factory.mktemp("chromium-shopper"))
    try:
        yield driver
    finally:
        driver.quit()


def leads(wp, car_id: int | None = None) -> list[dict]:
    """The outbox's leads (of one car), except those discarded between tests."""
    out = wp.php("global $wpdb; echo json_encode($wpdb->get_results(\"SELECT id, post_id, status, attempts,"
                 " last_error, payload FROM {$wpdb->prefix}forecourt_outbox WHERE event = 'lead' ORDER BY id\"));")
    rows = json.loads(out[out.index("["):])
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return [row for row in rows if row["status"] != "discarded" and car_id in (None, int(row["post_id"]))]


def _enquire(wp, shopper, link: str, first: str, email: str, message: str) -> None:
    shopper.get(link)
    form = screens._wait(shopper, ec.presence_of_element_located((By.CSS_SELECTOR, "form.forecourt-enquiry-form")))
    for name, value in (("first_name", first), ("last_name", "Haddad"), ("email", email),
                        ("phone", "+971 50 123 4567"), ("message", message)):
        form.find_element(By.NAME, name).send_keys(value)
    screens._click(shopper, form.find_element(By.CSS_SELECTOR, "button.forecourt-enquiry-submit"))


def _roadster_customers(control: str) -> list[dict]:
    return requests.get(f"{control}/customers", params={"dealer": live.ROADSTER_DEALER},
                        timeout=10).json()["customers"][live.ROADSTER_DEALER]


def test_a_shopper_enquires_from_the_car_page_and_lands_in_roadster(wp, forecourt, shopper):
    control = live.add_roadster(forecourt.carzle)
    car = cars.create_car(wp, price="27000", vin="JTMABABJ804066666")
    cars.update_car(wp, car["id"], content="One owner.\n\n[forecourt_enquiry]")
    link = wp.rest.get(f"{wp.url}/wp-json/wp/v2/inventory_vehicle/{car['id']}", timeout=30).json()["link"]

    _enquire(wp, shopper, link, "Amira", "amira@example.test", "Is it still available?")
    # The car page has an h1 too: wait for the storefront before reading one.
    screens._wait(shopper, ec.url_contains("/express/"))
    heading = screens._wait(shopper, ec.presence_of_element_located((By.TAG_NAME, "h1")))
    assert heading.text == "Welcome, Amira Haddad"
    assert "/express/JTMABABJ804066666?ucid=" in shopper.current_url
    assert shopper.find_element(By.CSS_SELECTOR, "p.pricing").text == "Pricing unlocked"
    assert leads(wp, car["id"]) == []  # delivered at once: nothing waits in the outbox

    (customer,) = _roadster_customers(control)
    assert (customer["email"], customer["first_name"], customer["last_name"], customer["phone"]) == (
        "amira@example.test", "Amira", "Haddad", "+971501234567")
    assert customer["submissions"][0]["vehicle"]["vin"] == "JTMABABJ804066666"


def test_with_forecourt_down_the_lead_waits_in_the_outbox_then_arrives_once(wp, forecourt, shopper):
    control = live.add_roadster(forecourt.carzle)
    car = cars.create_car(wp, price="27500", vin="JTMABABJ804066667")
    cars.update_car(wp, car["id"], content="[forecourt_enquiry]")
    link = wp.rest.get(f"{wp.url}/wp-json/wp/v2/inventory_vehicle/{car['id']}", timeout=30).json()["link"]
    forecourt.drain()
    forecourt.stop()
    try:
        _enquire(wp, shopper, link, "Omar", "omar@example.test", "Part-exchange?")
        thanks = screens._wait(shopper, ec.presence_of_element_located((By.CSS_SELECTOR, ".forecourt-enquiry-thanks")))
        assert "Thank you" in thanks.text and shopper.current_url.startswith(link)
        (lead,) = leads(wp, car["id"])
        assert lead["status"] == "pending"
        body = lead["payload"]
        assert {k: body[k] for k in ("first_name", "last_name", "email", "phone", "message")} == {
            "first_name": "Omar", "last_name": "Haddad", "email": "omar@example.test", "phone": "+971 50 123 4567",
            "message": "Part-exchange?"}
        assert body["car"] == {"post_id": car["id"], "vin": "JTMABABJ804066667", "stock_number": "STK-66667"}
        assert body["submission_id"]
    finally:
        forecourt.start()
    wp.flush_outbox()
    wp.flush_outbox()  # a second flush sends nothing more
    assert [row["status"] for row in leads(wp, car["id"])] == ["sent"]
    (customer,) = _roadster_customers(control)
    assert customer["email"] == "omar@example.test"
    assert [s["via"] for s in customer["submissions"]] == ["api"]


class LeadStub:
    """Forecourt's lead endpoint as it will answer: verifies the Standard Webhooks signature
    with the site secret, records the lead and names a landing page it also serves."""

    LANDING_TEXT = "Express checkout for your enquiry"

    def __init__(self) -> None:
        self.leads: list[dict] = []
        self.rejected: list[str] = []
        self.lock = threading.Lock()
        self.url = ""

    def __call__(self, environ, start_response):
        from app.webhooks.signatures import SignatureError, verify_standard_webhook

        request = Request(environ)
        path = request.path
        if request.method == "POST" and path == f"/hooks/leads/{live.SITE_ID}":
            body = request.get_data()
            try:
                webhook_id = verify_standard_webhook(request.headers, body, [live.SECRET])
            except SignatureError as exc:  # recorded; the test asserts there is none
                with self.lock:
                    self.rejected.append(f"{type(exc).__name__}: {exc}")
                return Response("bad signature", status=401)(environ, start_response)
            lead = json.loads(body)
            with self.lock:
                self.leads.append({"webhook_id": webhook_id, "body": lead})
            redirect = f"{self.url}/express/{lead['car']['vin']}?mem=abc"
            return Response(json.dumps({"status": "delivered", "redirect_url": redirect}), status=202,
                            content_type="application/json")(environ, start_response)
        if request.method == "GET" and path.startswith("/express/"):
            vin = path.removeprefix("/express/")
            html = (f"<!doctype html><html><body><h1 id='landing'>{self.LANDING_TEXT}</h1>"
                    f"<p id='landing-vin'>{vin}</p><p id='landing-mem'>{request.args.get('mem', '')}</p></body></html>")
            return Response(html, content_type="text/html")(environ, start_response)
        return Response("not here", status=404)(environ, start_response)


def test_forecourt_redirects_the_shopper_when_it_takes_the_lead(wp, shopper):
    vin = "JTMABABJ804077777"
    car = cars.create_car(wp, price="31000", vin=vin)
    cars.update_car(wp, car["id"], content="Low miles.\n\n[forecourt_enquiry]")
    link = wp.rest.get(f"{wp.url}/wp-json/wp/v2/inventory_vehicle/{car['id']}", timeout=30).json()["link"]
    stub = LeadStub()
    previous = wp.php("echo get_option('forecourt_url');").strip().splitlines()[-1]
    with ServerThread(stub) as server:
        stub.url = server.url
        wp.php(f"update_option('forecourt_url', '{server.url}');")
        try:
            landing = f"{server.url}/express/{vin}?mem=abc"
            for attempt, (first, email) in enumerate((("Amira", "amira@example.test"), ("Omar", "omar@example.test")),
                                                     start=1):
                shopper.get(link)
                form = screens._wait(shopper, ec.presence_of_element_located(
                    (By.CSS_SELECTOR, "form.forecourt-enquiry-form")))
                for name, value in (("first_name", first), ("last_name", "Haddad"), ("email", email),
                                    ("phone", "+971 50 123 4567"), ("message", f"Enquiry {attempt}")):
                    form.find_element(By.NAME, name).send_keys(value)
                screens._click(shopper, form.find_element(By.CSS_SELECTOR, "button.forecourt-enquiry-submit"))
                heading = screens._wait(shopper, ec.presence_of_element_located((By.ID, "landing")))
                assert heading.text == LeadStub.LANDING_TEXT
                assert shopper.current_url == landing
                assert shopper.find_element(By.ID, "landing-vin").text == vin
                assert shopper.find_element(By.ID, "landing-mem").text == "abc"

                assert stub.rejected == []
                assert len(stub.leads) == attempt, stub.leads
                body = stub.leads[-1]["body"]
                assert {k: body[k] for k in ("first_name", "last_name", "email", "phone", "message")} == {
                    "first_name": first, "last_name": "Haddad", "email": email, "phone": "+971 50 123 4567",
                    "message": f"Enquiry {attempt}"}
                assert body["car"] == {"post_id": car["id"], "vin": vin, "stock_number": "STK-77777"}
                assert stub.leads[-1]["webhook_id"] == f"lead_{body['submission_id']}"
                assert leads(wp, car["id"]) == []  # delivered at once: nothing waits in the outbox
        finally:
            wp.php(f"update_option('forecourt_url', {json.dumps(previous)});")
    first, second = stub.leads
    assert first["body"]["submission_id"] != second["body"]["submission_id"]
    assert first["webhook_id"] != second["webhook_id"]


def test_an_incomplete_enquiry_is_sent_back_and_other_form_plugins_use_the_hook(wp, shopper):
    car = cars.create_car(wp, price="27500", vin="JTMABABJ804088888")
    cars.update_car(wp, car["id"], content="[forecourt_enquiry]")
    link = wp.rest.get(f"{wp.url}/wp-json/wp/v2/inventory_vehicle/{car['id']}", timeout=30).json()["link"]
    shopper.get(link)
    form = screens._wait(shopper, ec.presence_of_element_located((By.CSS_SELECTOR, "form.forecourt-enquiry-form")))
    # Every field the browser checks is filled; the address passes type=email but not WordPress's
    # is_email (no dot in the domain), so the plugin's own check sends the shopper back.
    for name, value in (("first_name", "Sam"), ("last_name", "Lee"), ("email", "sam@localhost")):
        form.find_element(By.NAME, name).send_keys(value)
    screens._click(shopper, form.find_element(By.CSS_SELECTOR, "button.forecourt-enquiry-submit"))
    error = screens._wait(shopper, ec.presence_of_element_located((By.CSS_SELECTOR, ".forecourt-enquiry-error")))
    assert "valid email" in error.text
    assert leads(wp, car["id"]) == []

    wp.php("do_action('forecourt_submit_lead', ['first_name' => 'Lee', 'email' => 'lee@example.test',"
           " 'message' => 'no last name: Forecourt would refuse it', 'post_id' => 0]);")
    assert leads(wp, 0) == []
    wp.php("do_action('forecourt_submit_lead', ['first_name' => 'Lee', 'last_name' => 'Ng',"
           " 'email' => 'lee@example.test',"
           f" 'message' => '<b>Part-exchange?</b>', 'post_id' => {car['id']}]);")
    (lead,) = leads(wp, car["id"])
    assert lead["payload"]["first_name"] == "Lee" and lead["payload"]["message"] == "Part-exchange?"
    assert lead["payload"]["car"]["vin"] == "JTMABABJ804088888"
