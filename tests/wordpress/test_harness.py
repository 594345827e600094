"""The harness on its own, without the plugin: WordPress installs on MariaDB, serves over
loopback, takes REST calls with an application password, and wp-admin works in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.wordpress import harness


def test_wordpress_installs_and_the_rest_api_takes_an_application_password(wordpress):
    me = wordpress.rest.get(f"{wordpress.url}/wp-json/wp/v2/users/me?context=edit", timeout=30)
    assert me.status_code == 200, me.text[:500]
    assert "administrator" in me.json()["roles"]


def test_cars_can_be_created_edited_trashed_and_restored_over_rest(wordpress):
    api = f"{wordpress.url}/wp-json/wp/v2/inventory_vehicle"
    rest = wordpress.rest
    created = rest.post(api, json={"title": "2019 Toyota Corolla", "status": "publish",
                                   "meta": {"inventory_presser_price": "15000"}}, timeout=30)
    assert created.status_code == 201, created.text[:500]
    car_id = created.json()["id"]
    edited = rest.post(f"{api}/{car_id}", json={"meta": {"inventory_presser_price": "14500"}}, timeout=30)
    assert edited.json()["meta"]["inventory_presser_price"] == "14500"
    trashed = rest.delete(f"{api}/{car_id}", timeout=30)
    assert trashed.json()["status"] == "trash"
    restored = rest.post(f"{api}/{car_id}", json={"status": "publish"}, timeout=30)
    assert restored.json()["status"] == "publish"


def test_the_dealer_logs_into_wp_admin_in_chromium(wordpress, browser):
    browser.get(f"{wordpress.url}/wp-admin/edit.php?post_type=inventory_vehicle")
    assert browser.find_element(By.CSS_SELECTOR, "h1.wp-heading-inline").text == "Vehicles"
    assert "Fatal error" not in browser.page_source


@pytest.mark.no_wordpress
@pytest.mark.parametrize(
    ("attribute", "named"),
    [
        ("CHROMIUM", "Chromium (chromium)"),
        ("CHROMEDRIVER", "ChromeDriver (chromium-driver)"),
        ("MARIADBD", "MariaDB server (mariadb-server)"),
        ("WORDPRESS_SRC", "WordPress (Debian package wordpress)"),
    ],
)
def test_missing_software_is_named_with_its_package(monkeypatch, attribute, named):
    monkeypatch.setattr(harness, attribute, Path("/nonexistent") / attribute.lower())
    assert any(problem.startswith(named) for problem in harness.missing_prerequisites())


def test_the_dealer_edits_a_price_and_trashes_a_car_in_wp_admin(wordpress, browser):
    from tests.wordpress import cars, screens

    car = cars.create_car(wordpress, price="20000")
    screens.edit_price(browser, wordpress, car["id"], "19500")
    api = f"{wordpress.url}/wp-json/wp/v2/inventory_vehicle/{car['id']}?context=edit"
    assert wordpress.rest.get(api, timeout=30).json()["meta"]["inventory_presser_price"] == "19500"
    screens.trash(browser, wordpress, car["id"])
    assert wordpress.rest.get(api, timeout=30).json()["status"] == "trash"
