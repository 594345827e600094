"""Cars driven through the WordPress REST API (an application password, as a dealer's tools
use it) and through what other plugins do in PHP (meta-only and term-only changes) reach
Carzle through the plugin's outbox, one event per request, in order."""

from __future__ import annotations

from tests.wordpress import cars


def events_of(wp, car_id: int) -> list[str]:
    return [row["event"] for row in wp.outbox() if int(row["post_id"]) == car_id and row["status"] != "discarded"]


def deliver(wp, forecourt) -> None:
    wp.flush_outbox()
    forecourt.drain()


def test_create_edit_trash_untrash_publish_and_delete_over_rest(wp, forecourt):
    car = cars.create_car(wp, price="19000", vin="JTMABABJ804054321", photos=2)
    deliver(wp, forecourt)
    (listing,) = forecourt.listings()
    assert listing["price"] == 19000 and listing["status"] == "active"
    assert [cars.nearest(c) for c in cars.colours_on_marketplace(listing)] == [0, 1]

    cars.update_car(wp, car["id"], meta={"inventory_presser_price": "18250"})
    deliver(wp, forecourt)
    assert forecourt.listings()[0]["price"] == 18250

    cars.trash_car(wp, car["id"])
    deliver(wp, forecourt)
    assert forecourt.listings() == []

    # Restore from the trash as the Trash screen does (WordPress restores to draft)...
    wp.php(f"wp_untrash_post({car['id']});")
    deliver(wp, forecourt)
    assert forecourt.listings() == []
    # ...then publish it again over REST: listed again.
    cars.update_car(wp, car["id"], status="publish")
    deliver(wp, forecourt)
    (again,) = forecourt.listings()
    assert again["price"] == 18250 and again["id"] != listing["id"]

    gone = wp.rest.delete(f"{wp.url}/wp-json/wp/v2/inventory_vehicle/{car['id']}?force=true", timeout=60)
    assert gone.status_code == 200, gone.text[:300]
    deliver(wp, forecourt)
    assert forecourt.listings() == []

    sent = events_of(wp, car["id"])
    assert sent[0] == "save_post" and sent[-4:] == ["trash", "untrash", "save_post", "delete"], sent
    assert all(row["status"] == "sent" for row in wp.outbox() if int(row["post_id"]) == car["id"])


def test_meta_only_and_term_only_changes_fold_into_one_event_per_request(wp, forecourt):
    car = cars.create_car(wp, price="24000", vin="JTMABABJ804099999")
    deliver(wp, forecourt)
    before = len(events_of(wp, car["id"]))

    # What an importer or another plugin does: meta and terms only, no post update, in one request.
    wp.php(f"update_post_meta({car['id']}, 'inventory_presser_price', '23500');"
           f"update_post_meta({car['id']}, 'inventory_presser_odometer', '8,000');"
           f"wp_set_object_terms({car['id']}, ['Sale Pending'], 'availability');")
    assert len(events_of(wp, car["id"])) == before + 1
    deliver(wp, forecourt)
    (listing,) = forecourt.listings()
    assert listing["price"] == 23500 and listing["status"] == "reserved"

    # A term-only change on its own.
    wp.php(f"wp_set_object_terms({car['id']}, ['For Sale'], 'availability');")
    deliver(wp, forecourt)
    assert forecourt.listings()[0]["status"] == "active"


def test_autosaves_revisions_auto_drafts_and_other_post_types_are_not_sent(wp, forecourt):
    car = cars.create_car(wp, price="30000", vin="JTMABABJ804077777")
    deliver(wp, forecourt)
    before = len(wp.outbox())
    wp.php(f"$post = get_post({car['id']}); $post->post_title = 'Autosaved title';"
           " _wp_put_post_revision($post, true);"  # an autosave
           " $post->post_title = 'A revision'; _wp_put_post_revision($post);"
           " wp_insert_post(['post_type' => 'inventory_vehicle', 'post_status' => 'auto-draft',"
           " 'post_title' => 'Auto Draft']);"
           " wp_insert_post(['post_type' => 'post', 'post_status' => 'publish', 'post_title' => 'Blog']);")
    assert len(wp.outbox()) == before, wp.outbox()[before:]
