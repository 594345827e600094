"""What the dealer reads in wp-admin: the Marketplaces box with the fields to fix, photo
problems and the listing; the Marketplaces column following a fix; bulk Sync Now sending cars
that existed before the plugin was set up; the notice when the outbox backs up."""

from __future__ import annotations

import os

from selenium.webdriver.common.by import By

from tests.wordpress import cars, screens

LISTING_URL_FILTER = """<?php
/* A dealer's own snippet: where Carzle shows a listing. */
add_filter('forecourt_listing_url', function ($url, $marketplace, $remote_id) {
    return ($marketplace === 'carzle' && $remote_id)
        ? 'https://carzle.example/listings/' . rawurlencode($remote_id) : $url;
}, 10, 3);
"""


def deliver(wp, forecourt) -> None:
    wp.flush_outbox()
    forecourt.drain()


def test_the_box_shows_fields_to_fix_photo_problems_and_the_listing(wp, browser, forecourt):
    snippet = wp.root / "wp-content" / "mu-plugins" / "forecourt-listing-url.php"
    snippet.write_text(LISTING_URL_FILTER)
    try:
        good = cars.create_car(wp, price="17000", vin="JTMABABJ804022222", photos=2)
        os.unlink(wp.php(f"echo get_attached_file({good['media'][1]});").strip())  # photo 2 is gone
        bad = cars.create_car(wp, price="15000", vin="JTMABABJ804033333")
        wp.php(f"delete_post_meta({bad['id']}, 'inventory_presser_make');")
        deliver(wp, forecourt)

        box = screens.meta_box(browser, wp, bad["id"], want="error")["carzle"]
        assert box["text"] == "Carzle: Error"
        assert "until these fields are fixed: make" in box["message"]
        assert box["problems"] == {"Fix these fields:": ["make: required by Carzle to create a listing"]}
        assert screens.marketplace_states(browser, wp, bad["id"], want="error") == {"carzle": "error"}
        reason = browser.find_element(By.CSS_SELECTOR, f"#post-{bad['id']} .forecourt-status-reason").text
        assert "make" in reason

        (listing,) = forecourt.listings()
        box = screens.meta_box(browser, wp, good["id"], want="synced")["carzle"]
        assert box["link"] == f"https://carzle.example/listings/{listing['id']}"
        (photo_problem,) = box["problems"]["Photo problems:"]
        assert photo_problem.startswith("photo 2 (") and "car-" in photo_problem, photo_problem

        # The dealer fixes the make; the column follows.
        cars.update_car(wp, bad["id"], meta={"inventory_presser_make": "Toyota"})
        deliver(wp, forecourt)
        assert screens.marketplace_states(browser, wp, bad["id"], want="synced") == {"carzle": "synced"}
        assert len(forecourt.listings()) == 2
    finally:
        snippet.unlink()


def test_bulk_sync_now_sends_cars_from_before_the_plugin_was_set_up(wp, browser, forecourt):
    wp.php("update_option('forecourt_site_id', '');")  # not configured yet: nothing is sent
    try:
        old = [cars.create_car(wp, price=price, vin=vin)["id"]
               for price, vin in (("12000", "JTMABABJ804044444"), ("13000", "JTMABABJ804055555"))]
    finally:
        wp.php("update_option('forecourt_site_id', 'wp');")
    assert not [row for row in wp.outbox() if int(row["post_id"]) in old]
    states = screens.marketplace_states(browser, wp, old[0], want="unknown")
    assert states == {"forecourt": "unknown"}

    notice = screens.bulk_sync_now(browser, wp, old)
    assert "2 cars sent to Forecourt" in notice, notice
    forecourt.drain()
    assert sorted(listing["price"] for listing in forecourt.listings()) == [12000, 13000]
    for car_id in old:
        assert screens.marketplace_states(browser, wp, car_id, want="synced") == {"carzle": "synced"}


def test_an_admin_notice_appears_when_the_outbox_backs_up(wp, browser):
    # Forecourt is not running in this test: 51 cars imported in one request wait in the outbox.
    wp.php("for ($i = 1; $i <= 51; $i++) { wp_insert_post(['post_type' => 'inventory_vehicle',"
           " 'post_status' => 'publish', 'post_title' => \"Imported car $i\"]); }")
    try:
        wp.flush_outbox()  # tries, and finds Forecourt unreachable
        browser.get(f"{wp.url}/wp-admin/index.php")
        notice = screens._wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".notice.forecourt-backlog")).text
        assert "51 changes to your cars are waiting to be sent to Forecourt" in notice, notice
        assert "could not be reached" in notice, notice
    finally:
        wp.php("global $wpdb; $wpdb->query(\"DELETE p FROM {$wpdb->posts} p WHERE post_title LIKE 'Imported car %'\");"
               " $wpdb->query(\"UPDATE {$wpdb->prefix}forecourt_outbox SET status = 'discarded'"
               " WHERE status = 'pending'\");")
