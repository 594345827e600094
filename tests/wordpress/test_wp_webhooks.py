"""Issue 13's last done-when line: the same site driven by WP Webhooks (3.x, not the companion
plugin), configured only through WP Webhooks' own screens in wp-admin, syncs as well.

WP Webhooks is third-party code that CI never fetches, so this suite runs only where
FORECOURT_WP_WEBHOOKS_DIR points at an unpacked copy of the plugin (the folder holding
``wp-webhooks.php``); otherwise it is skipped with a "WP WEBHOOKS SUITE NOT RUN" reason and
banner (tests/wordpress/conftest.py). The README (Tests) says how to get the plugin.

What a dealer does, in headless Chromium: activate WP Webhooks on the Plugins screen; leave
its post trigger delay on; create a Bearer authentication template and enter the token;
add a *Send Data* webhook URL for Post created / updated / trashed / deleted pointing at
``/hooks/wordpress/<site>?event=<trigger>``, each limited to the car post type and given the
template. Forecourt's site has the same token as ``wp_webhooks_auth``. Then a car is published,
its price edited in wp-admin and the car trashed: the Carzle sandbox shows the listing, the new
price, then its deletion.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.wordpress import cars, harness, screens
from tests.wordpress.conftest import WP_WEBHOOKS_ENV

pytestmark = pytest.mark.wp_webhooks

TOKEN = "wpwh_bearer_" + "Zm9yZWNvdXJ0LXdwLXdlYmhvb2tzLXN1aXRl"  # a long random value, as the README asks
TEMPLATE = "forecourt"
TRIGGERS = ("post_create", "post_update", "post_trash", "post_delete")
WAIT = 60.0


def _plugin_source() -> Path:
    source = Path(os.environ[WP_WEBHOOKS_ENV]).expanduser()
    if not (source / "wp-webhooks.php").is_file():
        pytest.fail(f"{WP_WEBHOOKS_ENV}={source} does not hold WP Webhooks (no wp-webhooks.php there).",
                    pytrace=False)
    return source


# --- a WordPress of its own: no Forecourt plugin, so WP Webhooks is the only sender ---------


@pytest.fixture(scope="module")
def wpwh_site(wordpress_prerequisites, tmp_path_factory) -> Iterator[harness.WordPress]:
    source = _plugin_source()
    with harness.running_site(tmp_path_factory.mktemp("wordpress-wpwh"), with_plugin=False) as site:
        # "Upload the plugin folder to wp-content/plugins": DISALLOW_FILE_MODS forbids the
        # upload screen here, and a copy is what that screen would leave behind.
        shutil.copytree(source, site.root / "wp-content" / "plugins" / "wp-webhooks",
                        ignore=shutil.ignore_patterns(".git"))
        yield site


@pytest.fixture(scope="module")
def wpwh_browser(wpwh_site, tmp_path_factory):
    driver = harness.chromium(tmp_path_factory.mktemp("chromium-wpwh"))
    try:
        harness.login(driver, wpwh_site)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def configured_wpwh(wpwh_site, wpwh_browser, forecourt_port) -> harness.WordPress:
    """WP Webhooks activated and set up through its own screens, as the README tells a dealer."""
    from tests.wordpress.forecourt_live import SITE_ID

    driver = wpwh_browser
    activate_plugin(driver, wpwh_site)
    assert_post_delay_on(driver, wpwh_site)
    template_id = create_bearer_template(driver, wpwh_site, TEMPLATE, TOKEN)
    for trigger in TRIGGERS:
        url = f"http://127.0.0.1:{forecourt_port}/hooks/wordpress/{SITE_ID}?event={trigger}"
        add_webhook_url(driver, wpwh_site, trigger, name=f"forecourt-{trigger.replace('_', '-')}", url=url)
        configure_webhook(driver, wpwh_site, trigger, name=f"forecourt-{trigger.replace('_', '-')}",
                          post_type="inventory_vehicle", template_id=template_id)
    return wpwh_site


@pytest.fixture
def wpwh_forecourt(app, carzle, forecourt_port):
    """Forecourt live on loopback, its site holding the same Bearer token as WP Webhooks."""
    from tests.wordpress.forecourt_live import Forecourt, configure_site

    carzle.registry.update_config({"require_https_images": False, "allow_private_image_hosts": True})
    configure_site(carzle, extra=f'wp_webhooks_auth = {{type = "bearer", token = "{TOKEN}"}}')
    server = Forecourt(app, forecourt_port, carzle).start()
    try:
        yield server
    finally:
        server.stop()


# --- WP Webhooks' screens -----------------------------------------------------------------


def _page(site: harness.WordPress, tab: str, **query: str) -> str:
    extra = "".join(f"&{key}={value}" for key, value in query.items())
    return f"{site.url}/wp-admin/options-general.php?page=wp-webhooks-pro&wpwhprovrs={tab}{extra}"


def _by(css: str):
    from selenium.webdriver.common.by import By

    return (By.CSS_SELECTOR, css)


def _clickable(driver, css: str):
    from selenium.webdriver.support import expected_conditions as ec

    return screens._wait(driver, ec.element_to_be_clickable(_by(css)))


def activate_plugin(driver, site: harness.WordPress) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{site.url}/wp-admin/plugins.php")
    screens._click(driver, _clickable(driver, "tr[data-slug='wp-webhooks'] .activate a"))
    screens._wait(driver, ec.presence_of_element_located(_by("tr[data-slug='wp-webhooks'] .deactivate a")))


def assert_post_delay_on(driver, site: harness.WordPress) -> None:
    """Settings: "Deactivate Post Trigger Delay" is left unchecked (README step 5); saved as is."""
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(_page(site, "settings"))
    box = screens._wait(driver, ec.presence_of_element_located(_by("#wpwhpro_deactivate_post_delay")))
    assert not box.is_selected(), "WP Webhooks' post trigger delay is off; the README says to keep it on"
    screens._click(driver, driver.find_element(*_by("button[name='wpwh_settings_submit']")))
    box = screens._wait(driver, ec.presence_of_element_located(_by("#wpwhpro_deactivate_post_delay")))
    assert not box.is_selected()


def create_bearer_template(driver, site: harness.WordPress, name: str, token: str) -> str:
    """Authentication -> Create Template (Bearer Token), then its Settings: the token. Returns
    the template's id as the Send Data settings offer it."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    driver.get(_page(site, "authentication"))
    screens._click(driver, _clickable(driver, "a[data-target='#addAuthTemplateModal']"))
    field = _clickable(driver, "#addAuthTemplateModal #wpwh-authentication-name")
    field.send_keys(name)
    Select(driver.find_element(*_by("#wpwh-authentication-type"))).select_by_value("bearer_token")
    screens._click(driver, driver.find_element(*_by("#addAuthTemplateModal input[type='submit']")))

    edit = f".wpwh-edit-auth-template[data-wpwh-template-name='{name}']"
    button = screens._wait(driver, ec.presence_of_element_located(_by(edit)))
    template_id = button.get_attribute("data-wpwh-auth-id")
    row = button.find_element(*_by_xpath("./ancestor::tr"))
    screens._click(driver, row.find_element(*_by(".wpwh-dropdown-trigger")))
    screens._click(driver, _clickable(driver, edit))
    scheme = _clickable(driver, "#editAuthTemplateModal #iroikus-input-id-wpwhpro_auth_bearer_token_scheme")
    assert scheme.get_attribute("value") == "Bearer"
    token_field = _clickable(driver, "#editAuthTemplateModal #iroikus-input-id-wpwhpro_auth_bearer_token_token")
    token_field.clear()
    token_field.send_keys(token)
    screens._click(driver, _clickable(driver, "#wpwh-save-auth-template-button"))
    # Saved: the modal closes (WP Webhooks hides it only on success).
    screens._wait(driver, ec.invisibility_of_element_located(_by("#editAuthTemplateModal")))
    return template_id


def _by_xpath(xpath: str):
    from selenium.webdriver.common.by import By

    return (By.XPATH, xpath)


def add_webhook_url(driver, site: harness.WordPress, trigger: str, *, name: str, url: str) -> None:
    """Send Data -> the trigger -> Add Webhook URL."""
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(_page(site, "send-data", **{"wpwh-trigger": trigger}))
    screens._click(driver, _clickable(driver, f"#webhook-{trigger} button[data-toggle='modal']"))
    _clickable(driver, f"#wpwh-webhook-slug-{trigger}").send_keys(name)
    driver.find_element(*_by(f"#wpwh-webhook-url-{trigger}")).send_keys(url)
    screens._click(driver, driver.find_element(*_by(f"#submit-{trigger}")))
    row = screens._wait(driver, ec.presence_of_element_located(
        _by(f"#webhook-{trigger} #webhook-trigger-{name} input[name='ironikus_wp_webhooks_pro_webhook_url']")))
    assert row.get_attribute("value") == url


def configure_webhook(driver, site: harness.WordPress, trigger: str, *, name: str, post_type: str,
                      template_id: str) -> None:
    """The webhook URL's Settings: only the car post type, and the authentication template."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    driver.get(_page(site, "send-data", **{"wpwh-trigger": trigger}))
    row = f"#webhook-{trigger} #webhook-trigger-{name}"
    screens._click(driver, _clickable(driver, f"{row} .wpwh-dropdown-trigger"))
    screens._click(driver, _clickable(driver, f"{row} a[data-target^='#wpwhTriggerSettingsModal-']"))
    form = f"#ironikus-webhook-form-{trigger}-{name}"
    types = Select(_clickable(driver, f"{form} select[name='wpwhpro_{trigger}_trigger_on_post_type[]']"))
    types.deselect_all()
    types.select_by_value(post_type)
    Select(driver.find_element(*_by(f"{form} select[name='wpwhpro_trigger_authentication']"))
           ).select_by_value(template_id)
    screens._click(driver, driver.find_element(*_by(f"{form} button[data-wpwh-event='save']")))
    screens._wait(driver, ec.presence_of_element_located(_by(f"{form} .btn-msg")))

    # What was saved is what the screen shows after a reload.
    driver.get(_page(site, "send-data", **{"wpwh-trigger": trigger}))
    screens._wait(driver, ec.presence_of_element_located(_by(form)))
    types = Select(driver.find_element(*_by(f"{form} select[name='wpwhpro_{trigger}_trigger_on_post_type[]']")))
    assert [o.get_attribute("value") for o in types.all_selected_options] == [post_type]
    auth = Select(driver.find_element(*_by(f"{form} select[name='wpwhpro_trigger_authentication']")))
    assert auth.first_selected_option.get_attribute("value") == template_id


# --- the car's life ------------------------------------------------------------------------


def eventually(forecourt, check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Run Forecourt's jobs until ``check`` returns something truthy (WP Webhooks sends at the
    end of each WordPress request, so normally the first pass already sees it)."""
    deadline = time.monotonic() + timeout
    while True:
        forecourt.drain()
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; Carzle shows "
                                 f"{forecourt.listings(include_deleted=True)}; Forecourt received "
                                 f"{inbound_events(forecourt.app)}; its cars {cars_in_forecourt(forecourt.app)}")
        time.sleep(0.5)


def test_car_published_edited_and_trashed_syncs_through_wp_webhooks(configured_wpwh, wpwh_browser,
                                                                   wpwh_forecourt):
    wp, forecourt = configured_wpwh, wpwh_forecourt
    car = cars.create_car(wp, price="31500", vin="JTMABABJ804065432", photos=1)

    def listed() -> list[dict]:
        return [item for item in forecourt.listings() if item["price"] == 31500]

    (listing,) = eventually(forecourt, listed, "the published car on Carzle")
    assert len(forecourt.listings()) == 1
    assert [cars.nearest(c) for c in cars.colours_on_marketplace(listing)] == [0]

    screens.edit_price(wpwh_browser, wp, car["id"], "29750")

    def repriced() -> list[dict]:
        return [item for item in forecourt.listings() if item["price"] == 29750]

    (edited,) = eventually(forecourt, repriced, "the new price on Carzle")
    assert edited["id"] == listing["id"] and len(forecourt.listings()) == 1

    screens.trash(wpwh_browser, wp, car["id"])

    def deleted() -> list[dict]:
        return [item for item in forecourt.listings(include_deleted=True) if item.get("deletedAt")]

    (gone,) = eventually(forecourt, deleted, "the listing's deletion on Carzle")
    assert gone["id"] == listing["id"]
    assert forecourt.listings() == []

    # All of it came from WP Webhooks (Bearer template), not from anything else.
    received = inbound_events(forecourt.app, str(car["id"]))
    assert received and {row[0] for row in received} == {"wp_webhooks"}, received
    assert {row[1] for row in received} >= {"save_post", "trash"}, received


def inbound_events(app, car_ref: str | None = None) -> list[tuple[str, str, str, str]]:
    """(family, event, outcome, reason) of what Forecourt recorded, oldest first."""
    from app.listings.inbound_events import InboundEvent

    with app.app_context():
        query = InboundEvent.query if car_ref is None else InboundEvent.query.filter_by(car_ref=car_ref)
        return [(row.family, row.event, row.outcome, row.reason) for row in query.order_by(InboundEvent.id)]


def cars_in_forecourt(app) -> list[dict[str, Any]]:
    """What Forecourt made of the events: each car's status, mapping errors and sync states."""
    from app.listings.models import Car

    with app.app_context():
        return [{"car": car.car_ref, "status": car.status, "errors": car.mapping_errors,
                 "price": car.vehicle.get("price"),
                 "sync": [(s.status, s.last_error) for s in car.sync_states]} for car in Car.query.all()]
