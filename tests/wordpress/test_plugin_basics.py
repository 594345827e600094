"""The plugin itself: its PHP lints, it activates and creates its outbox, and its settings
screen never prints a secret back and checks the connection to Forecourt."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from selenium.webdriver.common.by import By

from tests.wordpress import forecourt_live as live
from tests.wordpress import harness, screens


@pytest.mark.no_wordpress  # runs even with FORECOURT_SKIP_WORDPRESS=1: it needs only php
def test_the_plugin_php_lints():
    if shutil.which("php") is None:
        pytest.fail(f"php is not installed, so the plugin cannot be linted: {harness.INSTALL_HINT}", pytrace=False)
    files = sorted(harness.PLUGIN_DIR.rglob("*.php"))
    assert files, f"no PHP files under {harness.PLUGIN_DIR}: the Forecourt plugin is missing"
    failures = []
    for path in files:
        result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            failures.append(result.stdout.strip() or result.stderr.strip())
    assert not failures, "\n".join(failures)


def test_activation_creates_the_outbox_table(plugin):
    out = plugin.php("global $wpdb; echo json_encode($wpdb->get_col("
                     "\"SHOW COLUMNS FROM {$wpdb->prefix}forecourt_outbox\"));")
    columns = set(out[out.index("["):].strip("[]\n").replace('"', "").split(","))
    assert {"id", "post_id", "event", "payload", "status", "attempts", "next_attempt_at", "last_error",
            "created_at", "sent_at"} <= columns


def test_settings_keep_secrets_out_of_the_page_and_test_connection_works(configured_plugin, browser, forecourt):
    browser.get(f"{configured_plugin.url}/wp-admin/options-general.php?page=forecourt")
    page = browser.page_source
    assert live.SECRET not in page and live.API_KEY not in page
    assert live.SECRET[6:20] not in page  # not even part of it
    states = [p.text for p in browser.find_elements(By.CSS_SELECTOR, ".forecourt-secret-state")]
    assert states == ["•••• set", "•••• set"], states
    assert browser.find_element(By.NAME, "forecourt_url").get_attribute("value") == forecourt.url
    box = browser.find_element(By.CSS_SELECTOR, "input[name='forecourt_post_types[]'][value='inventory_vehicle']")
    assert box.is_selected()

    result = screens.test_connection(browser, configured_plugin)
    assert result.startswith("Connected"), result
    assert f'site "{live.SITE_ID}"' in result and "API key can read" in result, result
    assert forecourt.listings() == []


def test_test_connection_says_what_is_wrong_when_forecourt_is_down(configured_plugin, browser, forecourt):
    forecourt.stop()
    try:
        result = screens.test_connection(browser, configured_plugin)
    finally:
        forecourt.start()
    assert result.startswith("Connection problem") and "could not be reached" in result, result


def test_an_empty_secret_field_keeps_the_secret_and_a_new_one_replaces_it(configured_plugin, browser):
    wp = configured_plugin
    browser.get(f"{wp.url}/wp-admin/options-general.php?page=forecourt")
    browser.find_element(By.ID, "submit").click()  # saved with the secret fields left empty
    screens._wait(browser, lambda d: d.find_elements(By.NAME, "forecourt_url"))
    assert wp.php("echo get_option('forecourt_webhook_secret');").strip() == live.SECRET
    assert wp.php("echo get_option('forecourt_api_key');").strip() == live.API_KEY
