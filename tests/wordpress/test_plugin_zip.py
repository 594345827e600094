"""bin/plugin-zip builds a zip that installs the way a dealer installs it (Plugins → Add New →
Upload Plugin, in Chromium) on a fresh WordPress whose settings are wp-config.php constants,
works there, and uninstalls cleanly."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.wordpress import cars, harness, screens
from tests.wordpress import forecourt_live as live

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "forecourt-wordpress-plugin.zip"
    result = subprocess.run([str(ROOT / "bin" / "plugin-zip"), "--out", str(out)], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.mark.no_wordpress
def test_the_zip_holds_one_forecourt_folder_and_nothing_else(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert all(name.startswith("forecourt/") for name in names), names
    for required in ("forecourt/forecourt.php", "forecourt/uninstall.php", "forecourt/readme.txt",
                     "forecourt/languages/forecourt.pot", "forecourt/assets/admin.js"):
        assert required in names
    assert not [n for n in names if "/." in n or n.endswith((".pyc", ".zip"))], names


def test_the_zip_uploads_activates_works_with_constants_and_uninstalls(plugin_zip, forecourt, forecourt_port,
                                                                        tmp_path_factory):
    constants = (f"define('FORECOURT_URL', 'http://127.0.0.1:{forecourt_port}');\n"
                 f"define('FORECOURT_SITE_ID', '{live.SITE_ID}');\n"
                 f"define('FORECOURT_WEBHOOK_SECRET', '{live.SECRET}');\n"
                 f"define('FORECOURT_API_KEY', '{live.API_KEY}');\n")
    parent = tmp_path_factory.mktemp("fresh-wordpress")
    with harness.running_site(parent, extra_config=constants, with_plugin=False, file_mods=True) as wp:
        driver = harness.chromium(tmp_path_factory.mktemp("chromium-fresh"))
        try:
            harness.login(driver, wp)
            driver.get(f"{wp.url}/wp-admin/plugin-install.php?tab=upload")
            screens._wait(driver, ec.presence_of_element_located((By.ID, "pluginzip"))).send_keys(str(plugin_zip))
            screens._click(driver, driver.find_element(By.ID, "install-plugin-submit"))
            screens._wait(driver, lambda d: "Plugin installed successfully" in d.page_source)
            screens._click(driver, driver.find_element(By.CSS_SELECTOR, "a.button-primary[href*='action=activate']"))
            screens._wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "tr[data-slug='forecourt'].active")))
            assert (wp.root / "wp-content" / "plugins" / "forecourt" / "forecourt.php").is_file()

            # Settings come from wp-config.php: shown locked, secrets never printed.
            driver.get(f"{wp.url}/wp-admin/options-general.php?page=forecourt")
            url_field = screens._wait(driver, ec.presence_of_element_located((By.ID, "forecourt_url")))
            assert url_field.get_attribute("disabled") and url_field.get_attribute("value") == forecourt.url
            assert not driver.find_elements(By.NAME, "forecourt_webhook_secret")
            states = [p.text for p in driver.find_elements(By.CSS_SELECTOR, ".forecourt-secret-state")]
            assert all("set in wp-config.php" in s for s in states) and len(states) == 2, states
            assert live.SECRET not in driver.page_source and live.API_KEY not in driver.page_source
            assert screens.test_connection(driver, wp).startswith("Connected")
        finally:
            driver.quit()

        # Inventory Presser's post type is picked without the dealer ticking it.
        car = cars.create_car(wp, price="21000", vin="JTMABABJ804011111")
        wp.flush_outbox()
        forecourt.drain()
        (listing,) = forecourt.listings()
        assert listing["price"] == 21000 and listing["externalRef"]

        out = wp.php("require_once ABSPATH . 'wp-admin/includes/plugin.php';"
                     " require_once ABSPATH . 'wp-admin/includes/file.php';"
                     " deactivate_plugins('forecourt/forecourt.php'); $r = delete_plugins(['forecourt/forecourt.php']);"
                     " global $wpdb; echo json_encode(['deleted' => $r === true,"
                     " 'table' => $wpdb->get_var(\"SHOW TABLES LIKE '{$wpdb->prefix}forecourt_outbox'\"),"
                     " 'meta' => get_post_meta(" + str(car["id"]) + ", '_forecourt_status', true),"
                     " 'install_id' => get_option('forecourt_install_id')]);")
        assert out[out.index("{"):].strip() == '{"deleted":true,"table":null,"meta":"","install_id":false}', out
        assert not (wp.root / "wp-content" / "plugins" / "forecourt").exists()
