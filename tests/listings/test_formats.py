"""Payload schemas: WordPress post events and DMS stock feeds."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from marshmallow import ValidationError

from app.listings.formats import (
    AUTERIO_MAX_VEHICLES,
    CARSLINK_MAX_LISTINGS,
    FeedLoad,
    WordPressEvent,
    detect_dms_format,
    is_ignorable,
    load_auterio,
    load_carslink_feed,
    load_wordpress_event,
)

CAR_TYPES = {"inventory_vehicle", "listings"}


def term(term_id: int, name: str, slug: str, taxonomy: str) -> dict[str, Any]:
    """A WP_Term as WP Webhooks serialises it."""
    return {
        "term_id": term_id,
        "name": name,
        "slug": slug,
        "term_group": 0,
        "term_taxonomy_id": term_id,
        "taxonomy": taxonomy,
        "description": "",
        "parent": 0,
        "count": 3,
        "filter": "raw",
    }


def wp_post(post_id: int, post_type: str, **overrides: Any) -> dict[str, Any]:
    post = {
        "ID": post_id,
        "post_author": "1",
        "post_date": "2024-05-02 12:30:00",
        "post_date_gmt": "2024-05-02 10:30:00",
        "post_content": "One owner, full service history.",
        "post_title": "2021 BMW 320d M Sport",
        "post_excerpt": "",
        "post_status": "publish",
        "comment_status": "closed",
        "ping_status": "closed",
        "post_password": "",
        "post_name": "2021-bmw-320d-m-sport",
        "to_ping": "",
        "pinged": "",
        "post_modified": "2024-05-03 09:15:42",
        "post_modified_gmt": "2024-05-03 07:15:42",
        "post_content_filtered": "",
        "post_parent": 0,
        "guid": f"https://dealer.example/?post_type={post_type}&p={post_id}",
        "menu_order": 0,
        "post_type": post_type,
        "post_mime_type": "",
        "comment_count": "0",
        "filter": "raw",
    }
    post.update(overrides)
    return post


# A WP Webhooks "post_update" delivery for an Inventory Presser vehicle.
INVENTORY_PRESSER = {
    "post_id": 812,
    "post": wp_post(812, "inventory_vehicle"),
    "post_meta": {
        "inventory_presser_vin": ["WBA5R1C50KA123456"],
        "inventory_presser_make": ["BMW"],
        "inventory_presser_model": ["320d"],
        "inventory_presser_trim": ["M Sport"],
        "inventory_presser_year": ["2021"],
        "inventory_presser_price": ["27995"],
        "inventory_presser_odometer": ["24,500"],
        "inventory_presser_stock_number": ["A1234"],
        "inventory_presser_color": ["Black Sapphire"],
        "inventory_presser_doors": ["4"],
        "_thumbnail_id": ["913"],
        "_edit_lock": ["1714727742:1"],
        "inventory_presser_options_array": ['a:2:{i:0;s:9:"Heated seats";i:1;s:3:"Nav";}'],
    },
    "post_before": wp_post(812, "inventory_vehicle", post_title="2021 BMW 320d"),
    "post_thumbnail": "https://dealer.example/wp-content/uploads/2024/05/320d-front.jpg",
    "post_permalink": "https://dealer.example/inventory/2021-bmw-320d-m-sport/",
    "taxonomies": {
        "type": {"car": term(11, "Car", "car", "type")},
        "condition": {"used": term(12, "Used", "used", "condition")},
        "availability": {"for-sale": term(13, "For Sale", "for-sale", "availability")},
        "fuel": {"diesel": term(14, "Diesel", "diesel", "fuel")},
        "transmission": {"automatic": term(15, "Automatic", "automatic", "transmission")},
        "body_style": {"sedan": term(16, "Sedan", "sedan", "body_style")},
        "location": {"main-lot": term(17, "Smith &amp; Sons Main Lot", "main-lot", "location")},
    },
}

# A WP Webhooks "post_create" delivery for a Motors theme listing, with ACF active.
MOTORS = {
    "post_id": "1207",
    "post": wp_post(
        1207,
        "listings",
        post_title="Volkswagen Golf GTI",
        post_name="volkswagen-golf-gti",
        post_modified_gmt="2024-06-01T08:00:00+00:00",
    ),
    "post_meta": {
        "price": ["34500"],
        "sale_price": [""],
        "mileage": ["15000"],
        "engine": ["2.0 TSI"],
        "vin_number": ["WVWZZZE1ZNP123456"],
        "stock_number": ["GTI-01"],
        "gallery": ["a:3:{i:0;i:1301;i:1;i:1302;i:2;i:1303;}"],
        "car_mark_as_sold": [""],
        "_thumbnail_id": ["1300"],
    },
    "post_thumbnail": False,
    "post_permalink": "https://dealer.example/listings/volkswagen-golf-gti/",
    "taxonomies": {
        "make": {"volkswagen": term(21, "Volkswagen", "volkswagen", "make")},
        "serie": {"golf": term(22, "Golf", "golf", "serie")},
        "ca-year": {"2024": term(23, "2024", "2024", "ca-year")},
        "body": {"hatchback": term(24, "Hatchback", "hatchback", "body")},
        "fuel": {"petrol": term(25, "Petrol", "petrol", "fuel")},
        "transmission": [],
        "exterior-color": {"black": term(26, "Black", "black", "exterior-color")},
    },
    "acf_data": {"warranty_months": 12, "features": ["Heated seats", "CarPlay"]},
}

COMPANION_SAVE = {
    "event": "save_post",
    "post_id": 812,
    "post": wp_post(812, "inventory_vehicle"),
    "post_meta": {"inventory_presser_price": [27995], "inventory_presser_year": 2021},
    "taxonomies": {"make": [{"term_id": 3, "name": "BMW", "slug": "bmw"}], "fuel": ["Diesel"]},
    "post_thumbnail": None,
    "post_permalink": "https://dealer.example/inventory/2021-bmw-320d-m-sport/",
    "images": [
        {"url": "https://dealer.example/wp-content/uploads/front.jpg", "id": 913},
        {"url": "https://dealer.example/wp-content/uploads/rear.jpg", "id": "914"},
        "http://dealer.example/wp-content/uploads/interior.jpg",
    ],
}


# --- WordPress: realistic payloads -----------------------------------------------------------


def test_inventory_presser_wp_webhooks_payload() -> None:
    event = load_wordpress_event(copy.deepcopy(INVENTORY_PRESSER), event_hint="post_update")
    assert isinstance(event, WordPressEvent)
    assert event.event == "save_post"
    assert event.source_format == "wp_webhooks"
    assert event.post_id == "812"
    assert event.post_type == "inventory_vehicle"
    assert event.post_status == "publish"
    assert event.modified_gmt == datetime(2024, 5, 3, 7, 15, 42, tzinfo=UTC)
    assert event.title == "2021 BMW 320d M Sport"
    assert event.content == "One owner, full service history."
    assert event.slug == "2021-bmw-320d-m-sport"
    assert event.meta["inventory_presser_make"] == ["BMW"]
    assert event.meta["inventory_presser_odometer"] == ["24,500"]
    assert event.terms == {
        "type": ["Car"],
        "condition": ["Used"],
        "availability": ["For Sale"],
        "fuel": ["Diesel"],
        "transmission": ["Automatic"],
        "body_style": ["Sedan"],
        "location": ["Smith & Sons Main Lot"],
    }
    assert event.thumbnail == "https://dealer.example/wp-content/uploads/2024/05/320d-front.jpg"
    assert event.permalink == "https://dealer.example/inventory/2021-bmw-320d-m-sport/"
    assert event.acf == {}
    assert event.images == []
    assert event.raw == INVENTORY_PRESSER
    assert is_ignorable(event, CAR_TYPES) is None


def test_wp_post_unknown_keys_are_kept() -> None:
    loaded = load_wordpress_event(copy.deepcopy(INVENTORY_PRESSER))
    assert loaded.raw["post"]["guid"].startswith("https://dealer.example/")
    assert loaded.raw["post_before"]["post_title"] == "2021 BMW 320d"


def test_motors_wp_webhooks_payload() -> None:
    event = load_wordpress_event(copy.deepcopy(MOTORS), event_hint="post_create")
    assert event.event == "save_post"
    assert event.post_id == "1207"
    assert event.post_type == "listings"
    assert event.modified_gmt == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert event.thumbnail is None
    assert event.terms["make"] == ["Volkswagen"]
    assert event.terms["ca-year"] == ["2024"]
    assert event.terms["transmission"] == []
    assert event.acf == {"warranty_months": 12, "features": ["Heated seats", "CarPlay"]}
    assert event.meta["sale_price"] == [""]
    assert is_ignorable(event, CAR_TYPES) is None
    assert is_ignorable(event, {"inventory_vehicle"}) == "post type 'listings' is not a car post type"


def test_wp_webhooks_demo_shapes_empty_php_arrays_and_false() -> None:
    payload = {
        "post_id": 5,
        "post": wp_post(5, "listings", post_date_gmt="0000-00-00 00:00:00", post_status="draft"),
        "post_meta": [],  # PHP empty array
        "taxonomies": [],
        "post_thumbnail": False,
        "post_permalink": False,
        "acf_data": False,
    }
    event = load_wordpress_event(payload)
    assert (event.meta, event.terms, event.acf) == ({}, {}, {})
    assert event.thumbnail is None and event.permalink is None
    assert event.event == "save_post"


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"k": ["a", "b"]}, {"k": ["a", "b"]}),
        ({"k": "bare"}, {"k": ["bare"]}),  # bare scalar is wrapped
        ({"k": 7}, {"k": [7]}),
        ({"k": None}, {"k": [None]}),
        ({"k": {"0": "a", "2": "b"}}, {"k": ["a", "b"]}),  # PHP array with holes
        ({"k": [1, 2.5, True, None, "x"]}, {"k": [1, 2.5, True, None, "x"]}),
        ({"k": [10**40]}, {"k": [10**40]}),
        (None, {}),
        ({}, {}),
    ],
)
def test_post_meta_forms(meta: Any, expected: dict[str, list]) -> None:
    event = load_wordpress_event({"post_id": 1, "post": wp_post(1, "listings"), "post_meta": meta})
    assert event.meta == expected


@pytest.mark.parametrize(
    ("taxonomies", "expected"),
    [
        ({"make": {"bmw": term(1, "BMW", "bmw", "make")}}, {"make": ["BMW"]}),
        ({"make": [{"term_id": 1, "name": "BMW"}, "Audi"]}, {"make": ["BMW", "Audi"]}),
        ({"make": [{"slug": "bmw"}]}, {"make": ["bmw"]}),
        ({"make": "BMW"}, {"make": ["BMW"]}),
        ({"year": [2021, 2021.0]}, {"year": ["2021"]}),
        ({"make": ["BMW", "BMW", " BMW "]}, {"make": ["BMW"]}),
        ({"make": ["Rolls &amp; Royce"]}, {"make": ["Rolls & Royce"]}),
        ({"make": None, "fuel": False, "body": {}}, {"make": [], "fuel": [], "body": []}),
    ],
)
def test_taxonomy_forms(taxonomies: Any, expected: dict[str, list[str]]) -> None:
    payload = {"post_id": 1, "post": wp_post(1, "listings"), "taxonomies": taxonomies}
    assert load_wordpress_event(payload).terms == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-03 07:15:42", datetime(2024, 5, 3, 7, 15, 42, tzinfo=UTC)),
        ("2024-05-03T07:15:42Z", datetime(2024, 5, 3, 7, 15, 42, tzinfo=UTC)),
        ("2024-05-03T09:15:42+02:00", datetime(2024, 5, 3, 7, 15, 42, tzinfo=UTC)),
        ("2024-05-03T07:15:42.123456", datetime(2024, 5, 3, 7, 15, 42, 123456, tzinfo=UTC)),
        ("0000-00-00 00:00:00", None),
        ("", None),
        (None, None),
    ],
)
def test_modified_gmt_parsing(value: str | None, expected: datetime | None) -> None:
    post = wp_post(1, "listings", post_modified_gmt=value)
    event = load_wordpress_event({"post_id": 1, "post": post})
    assert event.modified_gmt == expected
    if expected is not None:
        assert event.modified_gmt.utcoffset().total_seconds() == 0


def test_missing_modified_gmt_is_not_backfilled() -> None:
    post = wp_post(1, "listings")
    del post["post_modified_gmt"]
    assert load_wordpress_event({"post_id": 1, "post": post}).modified_gmt is None


# --- WordPress: events -----------------------------------------------------------------------


def test_companion_save_post() -> None:
    event = load_wordpress_event(copy.deepcopy(COMPANION_SAVE))
    assert event.source_format == "companion"
    assert event.event == "save_post"
    assert event.images == [
        {"url": "https://dealer.example/wp-content/uploads/front.jpg", "id": "913"},
        {"url": "https://dealer.example/wp-content/uploads/rear.jpg", "id": "914"},
        {"url": "http://dealer.example/wp-content/uploads/interior.jpg", "id": None},
    ]
    assert event.meta == {"inventory_presser_price": [27995], "inventory_presser_year": [2021]}
    assert event.terms == {"make": ["BMW"], "fuel": ["Diesel"]}


@pytest.mark.parametrize("name", ["save_post", "trash", "untrash", "delete"])
def test_companion_events(name: str) -> None:
    status = "trash" if name == "trash" else "publish"
    payload = {**COMPANION_SAVE, "event": name, "post": wp_post(812, "inventory_vehicle", post_status=status)}
    assert load_wordpress_event(payload).event == name


def test_companion_event_wins_over_url_hint() -> None:
    payload = {**COMPANION_SAVE, "event": "trash"}
    assert load_wordpress_event(payload, event_hint="post_update").event == "trash"


def test_companion_delete_without_post() -> None:
    event = load_wordpress_event({"event": "delete", "post_id": "812", "post": None})
    assert (event.event, event.post_id, event.post_type) == ("delete", "812", None)
    assert is_ignorable(event, CAR_TYPES) is None


@pytest.mark.parametrize(
    ("hint", "status", "expected"),
    [
        ("post_create", "publish", "save_post"),
        ("post_update", "publish", "save_post"),
        ("save_post", "draft", "save_post"),
        ("post_update", "trash", "trash"),  # WordPress trashes by updating the post
        ("post_trash", "trash", "trash"),
        ("post_untrash", "draft", "untrash"),
        ("post_delete", "trash", "delete"),
        ("POST_DELETE", "publish", "delete"),
        (None, "publish", "save_post"),
        (None, "trash", "trash"),
        ("", "trash", "trash"),
        (None, "future", "save_post"),
    ],
)
def test_event_from_hint_or_status(hint: str | None, status: str, expected: str) -> None:
    payload = {"post_id": 812, "post": wp_post(812, "inventory_vehicle", post_status=status)}
    assert load_wordpress_event(payload, event_hint=hint).event == expected


def test_unknown_hint_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        load_wordpress_event(copy.deepcopy(INVENTORY_PRESSER), event_hint="post_explode")
    assert "event" in info.value.messages


@pytest.mark.parametrize("hint", ["post_trash", "trash_post"])
def test_trash_with_null_post_removes_the_post_id(hint: str) -> None:
    # Inventory Presser's default "skip trash" deletes outright: WP Webhooks sends post: null.
    event = load_wordpress_event({"post_id": 812, "post": None, "post_meta": False}, event_hint=hint)
    assert (event.event, event.post_id) == ("delete", "812")
    assert is_ignorable(event, CAR_TYPES) is None


def test_wp_webhooks_delete_with_null_post() -> None:
    event = load_wordpress_event({"post_id": 812, "post": None, "post_meta": False}, event_hint="post_delete")
    assert event.event == "delete" and event.post_id == "812"


# --- WordPress: ignorable --------------------------------------------------------------------


def _event(**post: Any) -> WordPressEvent:
    base = wp_post(812, "inventory_vehicle")
    base.update(post)
    return load_wordpress_event({"post_id": 812, "post": base})


@pytest.mark.parametrize(
    ("post", "expected"),
    [
        ({}, None),
        ({"post_type": "revision", "post_name": "812-revision-v1", "post_status": "inherit"}, "revision"),
        ({"post_type": "revision", "post_name": "812-autosave-v1", "post_status": "inherit"}, "autosave"),
        ({"post_name": "812-revision-v1"}, "revision"),
        ({"post_name": "812-autosave-v1"}, "autosave"),
        ({"post_status": "auto-draft", "post_name": ""}, "auto-draft"),
        ({"post_type": "page"}, "post type 'page' is not a car post type"),
        ({"post_type": "attachment"}, "post type 'attachment' is not a car post type"),
        ({"post_type": None}, "post has no post_type"),
        ({"post_status": "draft"}, None),
        ({"post_status": "trash"}, None),
    ],
)
def test_is_ignorable(post: dict[str, Any], expected: str | None) -> None:
    assert is_ignorable(_event(**post), CAR_TYPES) == expected


def test_is_ignorable_accepts_a_single_type_string() -> None:
    assert is_ignorable(_event(), "inventory_vehicle") is None  # type: ignore[arg-type]


# --- WordPress: malformed inputs -------------------------------------------------------------


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return data


MALFORMED = [
    # (name, payload, expected top-level error key, nested key or None)
    ("list body", [], "_schema", None),
    ("string body", "post", "_schema", None),
    ("null body", None, "_schema", None),
    ("empty object", {}, "post_id", None),
    ("post_id text", _with(INVENTORY_PRESSER, "post_id", "abc"), "post_id", None),
    ("post_id zero", _with(INVENTORY_PRESSER, "post_id", 0), "post_id", None),
    ("post_id bool", _with(INVENTORY_PRESSER, "post_id", True), "post_id", None),
    ("post_id huge", _with(INVENTORY_PRESSER, "post_id", 10**30), "post_id", None),
    ("post_id float", _with(INVENTORY_PRESSER, "post_id", 812.5), "post_id", None),
    ("post_id list", _with(INVENTORY_PRESSER, "post_id", [812]), "post_id", None),
    ("post_id mismatch", _with(INVENTORY_PRESSER, "post_id", 813), "post_id", None),
    ("post list", _with(INVENTORY_PRESSER, "post", []), "post", None),
    ("post string", _with(INVENTORY_PRESSER, "post", "x"), "post", None),
    ("post.ID text", _with(INVENTORY_PRESSER, "post.ID", "x"), "post", "ID"),
    ("post_title number", _with(INVENTORY_PRESSER, "post.post_title", 5), "post", "post_title"),
    ("post_type list", _with(INVENTORY_PRESSER, "post.post_type", ["a"]), "post", "post_type"),
    ("modified garbage", _with(INVENTORY_PRESSER, "post.post_modified_gmt", "yesterday"), "post", "post_modified_gmt"),
    ("modified number", _with(INVENTORY_PRESSER, "post.post_modified_gmt", 10**400), "post", "post_modified_gmt"),
    (
        "modified overflow",
        _with(INVENTORY_PRESSER, "post.post_modified_gmt", "9999-12-31T23:59:59-05:00"),
        "post",
        "post_modified_gmt",
    ),
    ("date_gmt dict", _with(INVENTORY_PRESSER, "post.post_date_gmt", {}), "post", "post_date_gmt"),
    ("post_parent negative", _with(INVENTORY_PRESSER, "post.post_parent", -1), "post", "post_parent"),
    ("meta list of values", _with(INVENTORY_PRESSER, "post_meta", ["a"]), "post_meta", None),
    (
        "meta nested list",
        _with(INVENTORY_PRESSER, "post_meta.inventory_presser_make", [["BMW"]]),
        "post_meta",
        "inventory_presser_make",
    ),
    ("meta nested dict", _with(INVENTORY_PRESSER, "post_meta.k", [{"a": 1}]), "post_meta", "k"),
    ("meta string", _with(INVENTORY_PRESSER, "post_meta", "meta"), "post_meta", None),
    ("taxonomies list", _with(INVENTORY_PRESSER, "taxonomies", ["make"]), "taxonomies", None),
    ("taxonomies number", _with(INVENTORY_PRESSER, "taxonomies", 5), "taxonomies", None),
    ("term without name", _with(INVENTORY_PRESSER, "taxonomies.type", [{"term_id": 1}]), "taxonomies", "type"),
    ("term list", _with(INVENTORY_PRESSER, "taxonomies.type", [["Car"]]), "taxonomies", "type"),
    ("term bool", _with(INVENTORY_PRESSER, "taxonomies.type", [True]), "taxonomies", "type"),
    ("term huge", _with(INVENTORY_PRESSER, "taxonomies.type", [10**5000]), "taxonomies", "type"),
    ("term nested name", _with(INVENTORY_PRESSER, "taxonomies.type", [{"name": {"name": "x"}}]), "taxonomies", "type"),
    ("thumbnail ftp", _with(INVENTORY_PRESSER, "post_thumbnail", "ftp://x/y.jpg"), "post_thumbnail", None),
    ("thumbnail relative", _with(INVENTORY_PRESSER, "post_thumbnail", "/img.jpg"), "post_thumbnail", None),
    ("thumbnail true", _with(INVENTORY_PRESSER, "post_thumbnail", True), "post_thumbnail", None),
    ("thumbnail bad ipv6", _with(INVENTORY_PRESSER, "post_thumbnail", "http://[::1"), "post_thumbnail", None),
    ("permalink number", _with(INVENTORY_PRESSER, "post_permalink", 5), "post_permalink", None),
    ("acf list", _with(INVENTORY_PRESSER, "acf_data", [1, 2]), "acf_data", None),
    ("acf string", _with(INVENTORY_PRESSER, "acf_data", "x"), "acf_data", None),
    ("save without post", {"post_id": 5}, "post", None),
    ("companion bad event", _with(COMPANION_SAVE, "event", "publish"), "event", None),
    ("companion null event", _with(COMPANION_SAVE, "event", None), "event", None),
    ("companion event list", _with(COMPANION_SAVE, "event", ["save_post"]), "event", None),
    ("images not list", _with(COMPANION_SAVE, "images", {"url": "https://x/y"}), "images", None),
    ("image bad url", _with(COMPANION_SAVE, "images", [{"url": "javascript:alert(1)"}]), "images", 0),
    ("image no url", _with(COMPANION_SAVE, "images", [{"id": 3}]), "images", 0),
    ("image number", _with(COMPANION_SAVE, "images", [5]), "images", 0),
    ("image bad id", _with(COMPANION_SAVE, "images", [{"url": "https://x/y", "id": [1]}]), "images", 0),
]


@pytest.mark.parametrize(
    ("payload", "key", "nested"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_wordpress_payloads(payload: Any, key: str, nested: Any) -> None:
    with pytest.raises(ValidationError) as info:
        load_wordpress_event(payload)
    messages = info.value.messages
    assert isinstance(messages, dict) and key in messages, messages
    if nested is not None:
        assert nested in messages[key], messages


# --- Fuzzing ---------------------------------------------------------------------------------


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choices = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(10**6), 10**6),
        lambda: rng.choice([0, -1, 10**20, 10**400, -(10**5000), 2**63]),
        lambda: rng.choice([0.5, -1.5, 1e308, float("nan"), float("inf"), 2024.0]),
        lambda: rng.choice(["", " ", "abc", "2024", "12.5", "0000-00-00 00:00:00", "https://x.example/a.jpg"]),
        lambda: rng.choice(["javascript:x", "9" * 5000, "\x00", "ÿ", "1e5", "true", "delete", "trash"]),
    ]
    if depth < 3:
        choices.append(lambda: [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))])
        choices.append(
            lambda: {
                rng.choice(["name", "slug", "url", "id", "x", "0", "ID", "post_type"]): _random_value(rng, depth + 1)
                for _ in range(rng.randint(0, 3))
            }
        )
    return rng.choice(choices)()


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            out.extend(_paths(sub, (*prefix, key)))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            out.extend(_paths(sub, (*prefix, index)))
    return out


def _mutate(rng: random.Random, base: Any) -> Any:
    data = copy.deepcopy(base)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(data)
        path = rng.choice(paths)
        if not path:
            return _random_value(rng)
        target = data
        for key in path[:-1]:
            target = target[key]
        action = rng.random()
        if action < 0.15 and isinstance(target, dict):
            target.pop(path[-1], None)
        elif action < 0.25 and isinstance(target, dict):
            target[rng.choice(["event", "post", "images", "delete", "mode", "dealer", "status"])] = _random_value(rng)
        else:
            target[path[-1]] = _random_value(rng)
    return data


def _only_validation_errors(loader: Any, data: Any, **kwargs: Any) -> None:
    try:
        result = loader(data, **kwargs)
    except ValidationError as err:
        assert isinstance(err.messages, dict) and err.messages, err.messages
        return
    except Exception as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{loader.__name__} raised {type(exc).__name__}: {exc!r} for {data!r:.500}")
    assert result is not None


WORDPRESS_BASES = [INVENTORY_PRESSER, MOTORS, COMPANION_SAVE]


@pytest.mark.parametrize("seed", range(8))
def test_fuzz_wordpress_never_raises_anything_but_validation_error(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        data = _mutate(rng, rng.choice(WORDPRESS_BASES))
        hint = rng.choice([None, "post_update", "post_delete", "nonsense", ""])
        _only_validation_errors(load_wordpress_event, data, event_hint=hint)
        _only_validation_errors(load_wordpress_event, _random_value(rng))


# --- Auterio ---------------------------------------------------------------------------------

AUTERIO_DOC_EXAMPLE = {
    "vehicles": [
        {
            "vin": "WVWZZZE1ZNP123456",
            "brand": "Volkswagen",
            "model": "Golf",
            "version": "GTI 2.0 TSI",
            "year": 2024,
            "color_ext": "Negro",
            "fuel_type": "gasolina",
            "gearbox": "automático",
            "mileage": 15000,
            "power_hp": 245,
            "cost_price": 28000,
            "sale_price": 34500,
            "status": "disponible",
        },
        {
            "vin": "WBA11AA00PCJ12345",
            "brand": "BMW",
            "model": "320d",
            "year": 2023,
            "mileage": 42000,
            "cost_price": 22000,
            "sale_price": 28900,
        },
    ]
}


def test_auterio_documented_example() -> None:
    load = load_auterio(copy.deepcopy(AUTERIO_DOC_EXAMPLE))
    assert isinstance(load, FeedLoad)
    assert (load.format, load.mode, load.dealer) == ("auterio", "partial", None)
    assert load.skipped == [] and load.deletes == [] and load.received == 2
    golf, bmw = load.accepted
    assert golf["vin"] == "WVWZZZE1ZNP123456"
    assert golf["gearbox"] == "automático"
    assert golf["sale_price"] == 34500 and isinstance(golf["sale_price"], int)
    assert bmw["status"] == "disponible"  # documented default
    assert bmw["matricula"] is None and bmw["fecha_matricula"] is None
    assert set(golf) == set(bmw)  # every declared key present
    json.dumps(load.accepted)  # records travel as JSON


def test_auterio_full_record_normalisation() -> None:
    vehicle = {
        "vin": " wba11aa00pcj12345 ",
        "brand": "BMW",
        "model": 320,
        "matricula": "1234 abc",
        "year": "2023",
        "mileage": 42000.0,
        "engine_cc": "1995",
        "doors": 4,
        "seats": 5,
        "cost_price": "22000.50",
        "sale_price": 28900.999,
        "status": "Reservado",
        "fecha_matricula": "2023-03-15T00:00:00",
        "notes": "   ",
        "unknown_field": "dropped",
    }
    (record,) = load_auterio({"vehicles": [vehicle]}).accepted
    assert record["vin"] == "WBA11AA00PCJ12345"
    assert record["model"] == "320"
    assert record["matricula"] == "1234 ABC"
    assert record["year"] == 2023 and record["mileage"] == 42000 and record["engine_cc"] == 1995
    assert record["cost_price"] == 22000.5 and record["sale_price"] == 28901.0
    assert record["status"] == "reservado"
    assert record["fecha_matricula"] == "2023-03-15"
    assert record["notes"] is None
    assert "unknown_field" not in record


AUTERIO_BAD_VEHICLES = [
    ({"brand": "BMW", "model": "X1"}, "vin is required"),
    ({"vin": "  ", "brand": "BMW", "model": "X1"}, "vin is required"),
    ({"vin": None, "brand": "BMW", "model": "X1"}, "vin is required"),
    ({"vin": "V1", "model": "X1"}, "brand is required"),
    ({"vin": "V1", "brand": "BMW"}, "model is required"),
    ({"vin": "V1", "brand": ["BMW"], "model": "X1"}, "brand must be a string"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "year": 2.5}, "year must be an integer"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "year": "20x4"}, "year must be an integer"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "year": 1700}, "year must be an integer, 1886 or greater"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "mileage": -1}, "mileage must be an integer, 0 or greater"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "mileage": 10**400}, "mileage must be an integer, at most"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "mileage": True}, "mileage must be an integer"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "sale_price": "abc"}, "sale_price must be numeric"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "sale_price": float("nan")}, "sale_price must be numeric"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "cost_price": -5}, "cost_price must be numeric and >= 0"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "sale_price": 10**400}, "sale_price must be numeric and <="),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "status": "sold"}, "status must be one of: disponible"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "fecha_matricula": "15/03/2023"}, "fecha_matricula must be a date"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "fecha_matricula": "2023-02-30"}, "fecha_matricula must be a date"),
    ({"vin": "V1", "brand": "BMW", "model": "X1", "doors": 40}, "doors must be an integer, at most 10"),
    ({"vin": "V" * 65, "brand": "BMW", "model": "X1"}, "vin must be at most 64 characters"),
]


@pytest.mark.parametrize(("vehicle", "reason"), AUTERIO_BAD_VEHICLES)
def test_auterio_invalid_vehicle_is_skipped_with_reason(vehicle: dict[str, Any], reason: str) -> None:
    good = AUTERIO_DOC_EXAMPLE["vehicles"][0]
    load = load_auterio({"vehicles": [good, vehicle]})
    assert [v["vin"] for v in load.accepted] == [good["vin"]]
    (skip,) = load.skipped
    assert skip["index"] == 1
    assert reason in skip["reason"], skip["reason"]


def test_auterio_mixed_batch() -> None:
    vehicles = [
        {"vin": "A1", "brand": "Seat", "model": "Ibiza"},
        "not an object",
        {"vin": "A2", "brand": "Seat"},
        None,
        {"vin": "a3", "brand": "Seat", "model": "Leon", "year": "x", "mileage": -4},
        {"vin": "A4", "brand": "Seat", "model": "Arona", "status": None},
        {"vin": "a1", "brand": "Seat", "model": "Ibiza FR"},  # same VIN as index 0
    ]
    load = load_auterio({"vehicles": vehicles, "source": "DMS Cliente XYZ"})
    assert [v["vin"] for v in load.accepted] == ["A4", "A1"]
    assert load.accepted[1]["model"] == "Ibiza FR"
    assert load.accepted[0]["status"] == "disponible"
    assert [(s["index"], s["vin"]) for s in load.skipped] == [
        (0, "A1"),
        (1, None),
        (2, "A2"),
        (3, None),
        (4, "A3"),
    ]
    assert "later entry replaces it" in load.skipped[0]["reason"]
    assert load.skipped[1]["reason"] == "vehicle must be an object"
    assert load.skipped[4]["reason"] == "year must be an integer; mileage must be an integer, 0 or greater"
    assert load.present_ids == {"A1", "A2", "A3", "A4"}
    assert load.received == 7


def test_auterio_all_invalid_is_not_a_request_error() -> None:
    load = load_auterio({"vehicles": [{"brand": "x"}, {}]})
    assert load.accepted == [] and len(load.skipped) == 2


def _vehicle(i: int) -> dict[str, Any]:
    return {"vin": f"VIN{i:014d}", "brand": "Dacia", "model": "Sandero", "mileage": i}


def test_auterio_accepts_exactly_1000() -> None:
    load = load_auterio({"vehicles": [_vehicle(i) for i in range(AUTERIO_MAX_VEHICLES)]})
    assert len(load.accepted) == 1000 and load.skipped == []


AUTERIO_REQUEST_ERRORS = [
    ([], "_schema"),
    ("vehicles", "_schema"),
    (None, "_schema"),
    ({}, "vehicles"),
    ({"vehicles": None}, "vehicles"),
    ({"vehicles": {}}, "vehicles"),
    ({"vehicles": "x"}, "vehicles"),
    ({"vehicles": []}, "vehicles"),
    ({"vehicles": [_vehicle(i) for i in range(1001)]}, "vehicles"),
]


@pytest.mark.parametrize(("data", "key"), AUTERIO_REQUEST_ERRORS)
def test_auterio_request_errors(data: Any, key: str) -> None:
    with pytest.raises(ValidationError) as info:
        load_auterio(data)
    assert key in info.value.messages


def test_auterio_1001_message() -> None:
    with pytest.raises(ValidationError) as info:
        load_auterio({"vehicles": [_vehicle(i) for i in range(1001)]})
    assert info.value.messages == {"vehicles": ["at most 1,000 vehicles per request (received 1,001)"]}


# --- Carslink --------------------------------------------------------------------------------

CARSLINK_FULL_EXAMPLE = {
    "mode": "full_replace",
    "dealer": {
        "partner_dealer_id": "DEALER-001",
        "name": "Smith Motors Ltd",
        "address_line_1": "123 Motor Row",
        "town": "Manchester",
        "postcode": "M1 2AB",
        "phone": "0161 555 0100",
        "email": "sales@smithmotors.example",
        "website": "https://www.smithmotors.example",
    },
    "listings": [
        {
            "vehicle_type": "car",
            "make": "BMW",
            "model": "3 Series",
            "variant": "320d M Sport",
            "year": 2021,
            "price": 28995,
            "mileage": 24500,
            "fuel": "Diesel",
            "transmission": "Automatic",
            "colour": "Black Sapphire",
            "body_type": "Saloon",
            "condition": "Used",
            "registration": "AB21 XYZ",
            "vin": "WBAJL510X0G123456",
            "source_id": "YOUR-VEHICLE-ID-001",
            "images": [
                "https://example.com/hero.jpg",
                "https://example.com/rear.jpg",
                "https://example.com/interior.jpg",
                "https://example.com/dashboard.jpg",
            ],
            "listing_url": "https://www.smithmotors.example/vehicle/001",
            "description": "One owner from new with full BMW service history.",
        }
    ],
}


def _listing(source_id: str = "V-1", **fields: Any) -> dict[str, Any]:
    return {"source_id": source_id, "make": "Ford", "model": "Transit Custom", **fields}


def _feed(*listings: Any, mode: str = "partial") -> dict[str, Any]:
    return {"mode": mode, "dealer": {"partner_dealer_id": "D-9"}, "listings": list(listings)}


def test_carslink_documented_full_example() -> None:
    load = load_carslink_feed(copy.deepcopy(CARSLINK_FULL_EXAMPLE))
    assert (load.format, load.mode) == ("carslink", "full_replace")
    assert load.dealer["partner_dealer_id"] == "DEALER-001"
    assert load.dealer["postcode"] == "M1 2AB"
    assert load.dealer["county"] is None
    assert load.skipped == [] and load.deletes == []
    (listing,) = load.accepted
    assert listing["source_id"] == "YOUR-VEHICLE-ID-001"
    assert listing["fuel_type"] == "Diesel" and "fuel" not in listing
    assert listing["year"] == 2021 and listing["price"] == 28995 and listing["mileage"] == 24500
    assert listing["images"][0] == "https://example.com/hero.jpg" and len(listing["images"]) == 4
    assert listing["warnings"] == []
    assert load.present_ids == {"YOUR-VEHICLE-ID-001"}
    json.dumps(load.accepted)


def test_carslink_documented_partial_example_with_delete_flag() -> None:
    data = {
        "mode": "partial",
        "dealer": {"partner_dealer_id": "YOUR-INTERNAL-DEALER-ID"},
        "listings": [
            {"source_id": "VEHICLE-001", "price": 27495, "mileage": 25100, "description": "Updated description..."},
            {"source_id": "VEHICLE-002", "delete": True},
        ],
    }
    load = load_carslink_feed(data)
    assert load.deletes == ["VEHICLE-002"]
    # A partial feed patches the car Forecourt already has: the price-only entry is accepted.
    assert load.skipped == []
    (patch,) = load.accepted
    assert patch["source_id"] == "VEHICLE-001" and patch["price"] == 27495 and patch["make"] is None


def test_carslink_full_replace_still_needs_make_and_model() -> None:
    data = {
        "mode": "full_replace",
        "dealer": {"partner_dealer_id": "D"},
        "listings": [{"source_id": "VEHICLE-001", "price": 27495}],
    }
    load = load_carslink_feed(data)
    assert load.skipped == [{"index": 0, "source_id": "VEHICLE-001", "reason": "make is required; model is required"}]


def test_carslink_lenient_receiver_rules() -> None:
    load = load_carslink_feed(
        _feed(
            _listing("V-1"),  # no year, price, mileage, registration or images: still a car
            _listing("V-2", images=["https://a.example/1.jpg"], vehicle_type="Motorbike"),
            _listing(
                "V-3",
                images=["http://a.example/1.jpg", "ftp://a.example/2.jpg", {"url": "https://a.example/3.jpg"}, 7],
                fuel_type="Electric",
                fuel="Diesel",
                vehicle_type="VAN",
                listing_url="javascript:alert(1)",
                location="ignored",
            ),
            {"vin": "wf0xxxttgxkj12345", "make": "Ford", "model": "Ranger", "price": "18,995"},
            {"vin": "wf0xxxttgxkj99999", "make": "Ford", "model": "Ranger", "price": "18995.50"},
        )
    )
    by_id = {listing["source_id"]: listing for listing in load.accepted}
    assert set(by_id) == {"V-1", "V-2", "V-3", "WF0XXXTTGXKJ99999"}
    assert by_id["V-1"]["vehicle_type"] == "car" and by_id["V-1"]["images"] == []
    assert by_id["V-2"]["vehicle_type"] == "motorcycle"
    v3 = by_id["V-3"]
    assert v3["vehicle_type"] == "van"
    assert v3["images"] == ["http://a.example/1.jpg", "https://a.example/3.jpg"]
    assert v3["fuel_type"] == "Electric"
    assert v3["listing_url"] is None
    assert "location" not in v3
    assert v3["warnings"] == [
        "images[1] is not an http(s) URL; dropped",
        "images[3] is not an http(s) URL; dropped",
        "listing_url is not an http(s) URL; dropped",
    ]
    assert by_id["WF0XXXTTGXKJ99999"]["price"] == 18995.5
    assert load.skipped == [{"index": 3, "source_id": "WF0XXXTTGXKJ12345", "reason": "price must be numeric and > 0"}]


CARSLINK_BAD_LISTINGS = [
    (_listing(price=0), "price must be numeric and > 0"),
    (_listing(price=-10), "price must be numeric and > 0"),
    (_listing(price="POA"), "price must be numeric and > 0"),
    (_listing(price=True), "price must be numeric and > 0"),
    (_listing(price=float("inf")), "price must be numeric and > 0"),
    (_listing(year=21), "year must be a 4-digit integer"),
    (_listing(year="2021a"), "year must be a 4-digit integer"),
    (_listing(year=2021.5), "year must be a 4-digit integer"),
    (_listing(year=10**50), "year must be a 4-digit integer"),
    (_listing(mileage=-1), "mileage must be an integer, zero or greater"),
    (_listing(mileage="lots"), "mileage must be an integer, zero or greater"),
    (_listing(vehicle_type="boat"), "vehicle_type must be one of: car, motorcycle, van"),
    ({"make": "Ford", "model": "Focus"}, "source_id (or vin) is required to identify the listing"),
    ({"source_id": "  ", "make": "Ford", "model": "Focus"}, "source_id (or vin) is required"),
    ({"source_id": ["x"], "make": "Ford", "model": "Focus"}, "source_id must be a string"),
    ({"source_id": "V-1", "model": "Focus"}, "make is required"),
    ({"source_id": "V-1", "make": "Ford"}, "model is required"),
    ({"source_id": "V-1", "make": "Ford", "model": "Focus", "delete": "maybe"}, "delete must be true or false"),
    ({"delete": True}, "source_id is required to delete a listing"),
    ({"delete": True, "source_id": {"id": 1}}, "source_id must be a string"),
]


@pytest.mark.parametrize(("listing", "reason"), CARSLINK_BAD_LISTINGS)
def test_carslink_invalid_listing_is_skipped_with_reason(listing: dict[str, Any], reason: str) -> None:
    load = load_carslink_feed(_feed(_listing("GOOD"), listing, mode="full_replace"))
    assert [item["source_id"] for item in load.accepted] == ["GOOD"]
    (skip,) = load.skipped
    assert skip["index"] == 1
    assert reason in skip["reason"], skip["reason"]


@pytest.mark.parametrize(
    "flag",
    [True, "true", "TRUE", 1, "1", "yes"],
)
def test_carslink_delete_flag_forms(flag: Any) -> None:
    load = load_carslink_feed(_feed({"source_id": "V-7", "delete": flag, "price": "garbage"}))
    assert load.deletes == ["V-7"] and load.accepted == [] and load.skipped == []


def test_carslink_delete_false_is_an_upsert() -> None:
    load = load_carslink_feed(_feed(_listing("V-7", delete=False)))
    assert [item["source_id"] for item in load.accepted] == ["V-7"] and load.deletes == []


def test_carslink_delete_by_vin_uses_the_same_identity_as_upserts() -> None:
    load = load_carslink_feed(
        _feed(
            {"vin": "wbajl510x0g123456", "make": "BMW", "model": "320d"},
            {"vin": "WBAJL510X0G000000", "delete": True},
        )
    )
    assert load.accepted[0]["source_id"] == "WBAJL510X0G123456"
    assert load.deletes == ["WBAJL510X0G000000"]


def test_carslink_mixed_batch_and_duplicates() -> None:
    load = load_carslink_feed(
        _feed(
            _listing("A", price=100),
            _listing("B"),
            {"source_id": "A", "delete": True},  # supersedes index 0
            _listing("C", price=-1),
            _listing("B", price=200),  # supersedes index 1
            ["not", "an", "object"],
            {"source_id": "D", "delete": True},
            _listing("D", price=300),  # supersedes index 6
            mode="full_replace",
        )
    )
    assert load.mode == "full_replace"
    assert [(item["source_id"], item["price"]) for item in load.accepted] == [("B", 200), ("D", 300)]
    assert load.deletes == ["A"]
    assert [(s["index"], s["source_id"]) for s in load.skipped] == [
        (0, "A"),
        (1, "B"),
        (3, "C"),
        (5, None),
        (6, "D"),
    ]
    # C is unreadable this time but still in the dealer's stock: full_replace must keep it.
    assert load.present_ids == {"B", "C", "D"}
    assert load.received == 8


CARSLINK_REQUEST_ERRORS = [
    ([], "_schema", None),
    ("feed", "_schema", None),
    ({}, "mode", None),
    ({**_feed(_listing()), "mode": "replace"}, "mode", None),
    ({**_feed(_listing()), "mode": None}, "mode", None),
    ({k: v for k, v in _feed(_listing()).items() if k != "mode"}, "mode", None),
    ({k: v for k, v in _feed(_listing()).items() if k != "dealer"}, "dealer", None),
    ({**_feed(_listing()), "dealer": None}, "dealer", None),
    ({**_feed(_listing()), "dealer": []}, "dealer", None),
    ({**_feed(_listing()), "dealer": {}}, "dealer", "partner_dealer_id"),
    ({**_feed(_listing()), "dealer": {"partner_dealer_id": ""}}, "dealer", "partner_dealer_id"),
    ({**_feed(_listing()), "dealer": {"partner_dealer_id": ["x"]}}, "dealer", "partner_dealer_id"),
    ({k: v for k, v in _feed(_listing()).items() if k != "listings"}, "listings", None),
    (_feed(), "listings", None),
    (_feed(mode="full_replace"), "listings", None),
    ({**_feed(), "listings": {"source_id": "x"}}, "listings", None),
    ({**_feed(), "listings": None}, "listings", None),
]


@pytest.mark.parametrize(("data", "key", "nested"), CARSLINK_REQUEST_ERRORS)
def test_carslink_request_errors(data: Any, key: str, nested: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        load_carslink_feed(data)
    assert key in info.value.messages, info.value.messages
    if nested is not None:
        assert nested in info.value.messages[key]


def test_carslink_numeric_dealer_id_and_listing_cap() -> None:
    load = load_carslink_feed({**_feed(_listing()), "dealer": {"partner_dealer_id": 42}})
    assert load.dealer["partner_dealer_id"] == "42"
    too_many = [_listing(f"V{i}") for i in range(CARSLINK_MAX_LISTINGS + 1)]
    with pytest.raises(ValidationError) as info:
        load_carslink_feed(_feed(*too_many))
    assert "listings" in info.value.messages


# --- Format detection and DMS fuzzing --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (AUTERIO_DOC_EXAMPLE, "auterio"),
        ({"vehicles": "not a list"}, "auterio"),
        (CARSLINK_FULL_EXAMPLE, "carslink"),
        ({"listings": [], "dealer": {}}, "carslink"),
        ({"listings": [], "mode": "partial"}, "carslink"),
        ({"listings": []}, None),
        ({"vehicles": [], "listings": [], "dealer": {}}, None),
        ({}, None),
        ([], None),
        (None, None),
        ("vehicles", None),
    ],
)
def test_detect_dms_format(data: Any, expected: str | None) -> None:
    assert detect_dms_format(data) == expected


@pytest.mark.parametrize("seed", range(6))
def test_fuzz_dms_loaders_never_raise_anything_but_validation_error(seed: int) -> None:
    rng = random.Random(1000 + seed)
    bases = [AUTERIO_DOC_EXAMPLE, CARSLINK_FULL_EXAMPLE, _feed(_listing(), {"source_id": "X", "delete": True})]
    for _ in range(300):
        data = _mutate(rng, rng.choice(bases))
        for loader in (load_auterio, load_carslink_feed):
            _only_validation_errors(loader, data)
            _only_validation_errors(loader, _random_value(rng))
        detect_dms_format(data)


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_dms_skip_reasons_are_strings(seed: int) -> None:
    rng = random.Random(2000 + seed)
    for _ in range(200):
        vehicles = [_mutate(rng, AUTERIO_DOC_EXAMPLE["vehicles"][0]) for _ in range(5)]
        load = load_auterio({"vehicles": vehicles})
        assert len(load.accepted) + len(load.skipped) == 5
        assert all(isinstance(s["reason"], str) and s["reason"] for s in load.skipped)
        json.dumps(load.accepted)
        listings = [_mutate(rng, CARSLINK_FULL_EXAMPLE["listings"][0]) for _ in range(5)]
        feed = load_carslink_feed({**CARSLINK_FULL_EXAMPLE, "listings": listings})
        assert len(feed.accepted) + len(feed.skipped) + len(feed.deletes) == 5
        json.dumps(feed.accepted)


def test_a_new_drafts_floating_date_is_bounded_by_its_local_time() -> None:
    """A post WordPress has just inserted as a draft has zero GMT dates and only local times:
    its modified time is taken as the earliest UTC that local time can be (UTC+14)."""
    post = wp_post(1, "inventory_vehicle", post_status="draft", post_date_gmt="0000-00-00 00:00:00",
                   post_modified_gmt="0000-00-00 00:00:00", post_modified="2024-05-03 09:15:42")
    assert load_wordpress_event({"post_id": 1, "post": post}).modified_gmt == datetime(2024, 5, 2, 19, 15, 42,
                                                                                        tzinfo=UTC)
    for bad in ("0000-00-00 00:00:00", "", "soon", "0001-01-01 00:00:00", None, 7):
        post["post_modified"] = bad
        assert load_wordpress_event({"post_id": 1, "post": post}).modified_gmt is None
    # A dated post (or one whose sender gave no GMT fields at all) is not a new draft.
    dated = wp_post(1, "inventory_vehicle", post_modified_gmt="0000-00-00 00:00:00")
    assert load_wordpress_event({"post_id": 1, "post": dated}).modified_gmt is None
    undated = wp_post(1, "inventory_vehicle", post_date_gmt="0000-00-00 00:00:00")
    del undated["post_modified_gmt"]
    assert load_wordpress_event({"post_id": 1, "post": undated}).modified_gmt is None
