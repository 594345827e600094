import copy
import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from marshmallow import ValidationError

import app.connectors.carzle  # noqa: F401  (registers Carzle's carzle_status override)
from app.listings.presets import (
    INVENTORY_PRESSER_CONFIG,
    MAPPABLE_FIELDS,
    MOTORS_CONFIG,
    PRESETS,
    MappingResult,
    PostLike,
    config_error_messages,
    get_preset,
    map_post,
    preset_from_config,
)
from app.listings.status import decide_status
from app.listings.vehicle import Image, Vehicle

FIXTURES = Path(__file__).parent / "fixtures"
YEAR = 2025  # pins parse_year's upper bound


@dataclass
class FakePost:
    """Stands in for app.listings.formats' parsed event: attribute access, like the real one."""

    post_id: str
    post_type: str
    post_status: str
    title: str | None = None
    content: str | None = None
    meta: dict[str, list[Any]] = field(default_factory=dict)
    terms: dict[str, list[str]] = field(default_factory=dict)
    acf: dict[str, Any] = field(default_factory=dict)
    thumbnail: str | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    permalink: str | None = None
    modified_gmt: datetime | None = None


def load_post(name: str, **changes: Any) -> FakePost:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    if data.get("modified_gmt"):
        data["modified_gmt"] = datetime.fromisoformat(data["modified_gmt"])
    data.update(changes)
    return FakePost(**data)


def ip_post(**meta_changes: Any) -> FakePost:
    """The Inventory Presser fixture with meta keys replaced (value None deletes the key)."""
    post = load_post("inventory_presser_post")
    for key, value in meta_changes.items():
        full = f"inventory_presser_{key}"
        if value is None:
            post.meta.pop(full, None)
        else:
            post.meta[full] = value
    return post


def ip(post: Any, **kwargs: Any) -> MappingResult:
    return map_post(post, PRESETS["inventory-presser"], current_year=YEAR, **kwargs)


def motors(post: Any, **kwargs: Any) -> MappingResult:
    return map_post(post, PRESETS["motors"], current_year=YEAR, **kwargs)


def generic_config() -> dict[str, Any]:
    return tomllib.loads((FIXTURES / "generic_config.toml").read_text())


# ----------------------------------------------------------------------------- Inventory Presser


def test_fake_post_satisfies_protocol():
    assert isinstance(load_post("inventory_presser_post"), PostLike)


def test_inventory_presser_end_to_end():
    result = ip(load_post("inventory_presser_post"))
    assert result.errors == {}
    assert result.warnings == []
    assert result.flag_status is None
    base = "https://shop.example-dealer.com/wp-content/uploads/2024/05/"
    assert result.vehicle == Vehicle(
        source="wordpress",
        car_ref="1042",
        status=None,
        make="Ford",
        model="F-150",
        year=2019,
        trim="XLT",
        title="2019 Ford F-150 XLT \u2013 SuperCrew",
        description="One owner, clean Carfax & full service history.\n\n- Tow package\n- Spray-in bed liner",
        price=28995,
        msrp=41250,
        kilometers=39429,  # 24,500 miles: Inventory Presser is US-centric
        vin="1FTEW1E56KFA12345",
        stock_number="F1042",
        exterior_color="Magnetic Gray",
        interior_color="Black",
        body_type="Crew Cab Pickup",
        transmission="10 Speed Automatic",
        fuel_type="Gas",
        drive_type="4 Wheel Drive",
        engine="3.5L V6 EcoBoost",
        doors=4,
        condition="used",
        features=["Backup Camera", "Bluetooth", "Tow Package", "Heated Front Seats"],
        images=[
            Image(base + "f150-1.jpg", "2201"),
            Image(base + "f150-2.jpg", "2202"),
            Image(base + "f150-3.jpg", "2203"),
        ],
        listing_url="https://shop.example-dealer.com/inventory/2019-ford-f-150-xlt/",
        post_id="1042",
        modified_at="2024-05-01T14:31:30+00:00",
    )


def test_plain_mapping_works_like_the_dataclass():
    post = load_post("inventory_presser_post")
    as_dict = {k: getattr(post, k) for k in post.__dataclass_fields__}
    assert ip(as_dict).vehicle == ip(post).vehicle


def test_vehicle_round_trips_through_dict():
    vehicle = ip(load_post("inventory_presser_post")).vehicle
    assert Vehicle.from_dict(json.loads(json.dumps(vehicle.to_dict()))) == vehicle


def test_inventory_presser_falls_back_to_taxonomies():
    post = ip_post(
        make=None, model=None, year=[""], body_style=None, color=None, fuel=None, condition=None, availability=None
    )
    post.terms["availability"] = ["Wholesale", "Sold"]
    result = ip(post)
    v = result.vehicle
    assert (v.make, v.model, v.year) == ("Ford", "F-150", 2019)
    assert v.body_type == "Pickup"  # the plugin's taxonomy is "style"
    assert v.exterior_color == "Gray"  # "colors" taxonomy
    assert v.fuel_type == "Gas"
    assert v.condition == "used"
    assert result.flag_status == "sold"  # any flag among several availability terms wins
    assert result.errors == {}


def test_odometer_units_meta_switches_to_km():
    assert ip(ip_post(odometer_units=["km"])).vehicle.kilometers == 24500
    assert ip(ip_post(odometer_units=["Miles"])).vehicle.kilometers == 39429
    assert ip(ip_post(odometer=["24,500 km"])).vehicle.kilometers == 24500  # explicit unit wins
    result = ip(ip_post(odometer_units=["furlongs"]))
    assert result.vehicle.kilometers == 39429
    assert any("unknown odometer unit 'furlongs'" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("availability", "flag"),
    [
        ("For Sale", None),
        ("Sold", "sold"),
        ("SOLD", "sold"),
        ("Pending", "reserved"),
        ("Sale Pending", "reserved"),
        ("sale-pending", "reserved"),  # the term's slug, as some senders send it
        ("Reserved", "reserved"),
        ("Coming Soon", "coming_soon"),
        ("coming_soon", "coming_soon"),
    ],
)
def test_inventory_presser_availability(availability, flag):
    post = ip_post(availability=[availability])
    post.terms.pop("availability")
    assert ip(post).flag_status == flag


def test_unknown_availability_only_warns():
    post = ip_post(availability=["Wholesale"])
    result = ip(post)
    assert result.flag_status is None
    assert result.warnings and "'Wholesale'" in result.warnings[0]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["Backup Camera", "Bluetooth"], ["Backup Camera", "Bluetooth"]),  # multi-valued meta
        (['["Backup Camera","Bluetooth"]'], ["Backup Camera", "Bluetooth"]),  # JSON string
        (["Backup Camera, Bluetooth"], ["Backup Camera", "Bluetooth"]),
        (["Backup Camera|Bluetooth"], ["Backup Camera", "Bluetooth"]),  # WP All Import pipes
        (["Backup Camera\nBluetooth"], ["Backup Camera", "Bluetooth"]),
        (['a:2:{i:0;s:13:"Backup Camera";i:1;s:9:"Bluetooth";}'], ["Backup Camera", "Bluetooth"]),
        ([""], []),
    ],
)
def test_inventory_presser_features_shapes(options, expected):
    assert ip(ip_post(options_array=options)).vehicle.features == expected


def test_description_meta_beats_post_content():
    post = ip_post(description=["<p>Dealer&#8217;s own words.</p>"])
    assert ip(post).vehicle.description == "Dealer\u2019s own words."


def test_images_fall_back_to_thumbnail_and_ignore_photo_ids():
    post = ip_post()
    post.images = []
    assert ip(post).vehicle.images == [Image(post.thumbnail)]
    post.thumbnail = None
    assert ip(post).vehicle.images == []  # inventory_presser_photos are attachment ids


def test_unparseable_values_are_collected_not_raised():
    result = ip(ip_post(price=["12abc34"], doors=["four"], vin=["1FTEW1E56KFA1234"]))
    assert result.errors == {
        "price": "price: could not read '12abc34' as money",
        "doors": "doors: could not read 'four' as a whole number",
        "vin": "vin: '1FTEW1E56KFA1234' has 16 characters; a VIN has 17",
    }
    v = result.vehicle
    assert (v.price, v.doors, v.vin) == (None, None, None)
    assert v.make == "Ford"  # the rest still maps
    assert not result.ok


def test_bad_meta_value_rescued_by_fallback_becomes_a_warning():
    result = ip(ip_post(year=["MMXIX"]))
    assert result.vehicle.year == 2019
    assert result.errors == {}
    assert result.warnings == [
        "year: could not read 'MMXIX' as a whole number (in meta:inventory_presser_year); used term:model_year instead"
    ]


@pytest.mark.parametrize("price", [["Call for price"], ["0"], [""], ["N/A"]])
def test_no_price_is_not_an_error(price):
    result = ip(ip_post(price=price))
    assert result.vehicle.price is None
    assert "price" not in result.errors


def test_title_composed_when_post_has_none():
    post = load_post("inventory_presser_post", title="")
    assert ip(post).vehicle.title == "2019 Ford F-150 XLT"
    post = ip_post(trim=None)
    post.title = None
    assert ip(post).vehicle.title == "2019 Ford F-150"


def test_car_ref_schemes():
    post = load_post("inventory_presser_post")
    assert ip(post, site_ref_scheme="stock_number").vehicle.car_ref == "F1042"
    assert ip(post, site_ref_scheme="vin").vehicle.car_ref == "1FTEW1E56KFA12345"
    no_stock = ip(ip_post(stock_number=None), site_ref_scheme="stock_number")
    assert no_stock.vehicle.car_ref == ""  # never silently mixes in the post id
    assert no_stock.errors["car_ref"].startswith("car_ref: the site identifies cars by stock_number")
    with pytest.raises(ValueError):
        ip(post, site_ref_scheme="sku")  # type: ignore[arg-type]


def test_wrong_post_type_warns():
    post = load_post("inventory_presser_post", post_type="page")
    assert any("post type 'page'" in w for w in ip(post).warnings)


def test_naive_modified_gmt_is_utc_and_aware_is_converted():
    post = load_post("inventory_presser_post", modified_gmt=datetime.fromisoformat("2024-05-01T18:31:30+04:00"))
    assert ip(post).vehicle.modified_at == "2024-05-01T14:31:30+00:00"


# ----------------------------------------------------------------------------- Motors


def test_motors_end_to_end():
    result = motors(load_post("motors_post"))
    assert result.errors == {}
    assert result.flag_status is None
    base = "https://motors.example-dealer.ae/wp-content/uploads/2024/04/"
    assert result.vehicle == Vehicle(
        source="wordpress",
        car_ref="877",
        make="BMW",  # term name, not the "bmw" slug in meta
        model="3 Series",
        year=2021,
        title="BMW 320d M Sport",
        description="Full BMW service history. Two keys.",  # WPBakery shortcodes removed
        price=29900,  # sale price wins
        kilometers=39000,
        vin="WBA5R1C05LFH12345",
        stock_number="M-877",
        exterior_color="Black Sapphire",
        body_type="Sedan",
        transmission="Automatic",
        fuel_type="Diesel",
        drive_type="RWD",
        engine="2.0",
        condition="used",
        features=["Heated seats", "Navigation", "Parking sensors", "Apple CarPlay"],
        images=[Image(base + "bmw-front.jpg", "311"), Image(base + "bmw-rear.jpg", "312")],
        listing_url="https://motors.example-dealer.ae/listings/bmw-320d-m-sport/",
        post_id="877",
        modified_at="2024-05-02T09:00:00+00:00",
        warnings=result.warnings,
    )
    # A European VIN fails the North-American check digit: a warning, never an error.
    assert result.warnings == [
        "vin: check digit of WBA5R1C05LFH12345 is '5', North-American rule expects '0' (expected outside North America)"
    ]


@pytest.mark.parametrize(
    ("sale_price", "expected"),
    [(["29,900"], 29900), (["0"], 32900), ([""], 32900), (None, 32900), (["POA"], 32900)],
)
def test_motors_sale_price_wins_only_when_positive(sale_price, expected):
    post = load_post("motors_post")
    if sale_price is None:
        del post.meta["sale_price"]
    else:
        post.meta["sale_price"] = sale_price
    assert motors(post).vehicle.price == expected


@pytest.mark.parametrize(
    ("value", "flag"),
    [(["on"], "sold"), (["1"], "sold"), (["yes"], "sold"), (["YES"], "sold"), ([""], None), (["off"], None)],
)
def test_motors_mark_as_sold(value, flag):
    post = load_post("motors_post")
    post.meta["car_mark_as_sold"] = value
    assert motors(post).flag_status == flag


@pytest.mark.parametrize(
    ("acf_value", "mark_as_sold", "flag"),
    [
        ("reserved", "", "reserved"),
        ({"value": "coming_soon", "label": "Coming Soon"}, "", "coming_soon"),
        ("Coming Soon", "", "coming_soon"),
        ("sold", "", "sold"),
        ("active", "on", None),  # the dealer's explicit Carzle choice overrides the plugin flag
        ("", "on", "sold"),  # empty dropdown: no opinion, the plugin flag decides
        (False, "on", "sold"),  # ACF returns false for an empty field
    ],
)
def test_carzle_status_acf_overrides(acf_value, mark_as_sold, flag):
    post = load_post("motors_post")
    post.acf["carzle_status"] = acf_value
    post.meta["car_mark_as_sold"] = [mark_as_sold]
    assert motors(post).flag_status == flag


def test_carzle_status_non_flag_value_warns_and_falls_through():
    post = load_post("motors_post")
    post.acf["carzle_status"] = "inactive"
    post.meta["car_mark_as_sold"] = ["on"]
    result = motors(post)
    assert result.flag_status == "sold"
    assert any("carzle_status value 'inactive'" in w for w in result.warnings)


def test_carzle_status_is_honoured_by_every_preset():
    post = load_post("inventory_presser_post", acf={"carzle_status": "reserved"})
    assert ip(post).flag_status == "reserved"
    post = ip_post()
    post.meta["carzle_status"] = ["coming_soon"]  # ACF mirrors values into post meta
    assert ip(post).flag_status == "coming_soon"
    post = load_post("generic_post")
    post.acf["carzle_status"] = "sold"
    assert map_post(post, get_preset("generic", generic_config()), current_year=YEAR).flag_status == "sold"


def test_motors_distance_unit_is_a_preset_option():
    post = load_post("motors_post")
    post.meta["mileage"] = ["24500"]
    assert motors(post).vehicle.kilometers == 24500
    in_miles = get_preset("motors", {"distance_unit": "mi"})
    assert map_post(post, in_miles).vehicle.kilometers == 39429
    assert PRESETS["motors"].distance_unit == "km"  # the registry is untouched


def test_motors_gallery_used_only_when_it_holds_urls():
    post = load_post("motors_post", images=[], thumbnail=None)
    assert motors(post).vehicle.images == []  # PHP-serialized attachment ids
    post.meta["gallery"] = ["https://cdn.example.ae/1.jpg", "https://cdn.example.ae/2.jpg"]
    assert [i.url for i in motors(post).vehicle.images] == [
        "https://cdn.example.ae/1.jpg",
        "https://cdn.example.ae/2.jpg",
    ]


def test_motors_meta_slugs_are_the_fallback_for_missing_terms():
    post = load_post("motors_post", terms={})
    v = motors(post).vehicle
    assert (v.make, v.model, v.year, v.kilometers) == ("bmw", "3-series", 2021, 39000)


def test_flag_feeds_decide_status():
    post = load_post("motors_post")
    post.meta["car_mark_as_sold"] = ["on"]
    result = motors(post)
    assert decide_status("save", post.post_status, result.flag_status, ever_published=True) == "sold"


# ----------------------------------------------------------------------------- generic


def test_generic_end_to_end():
    preset = get_preset("generic", generic_config())
    assert preset.slug == "generic"
    assert preset.post_types == ("car",)
    result = map_post(load_post("generic_post"), preset, current_year=YEAR)
    assert result.errors == {}
    assert result.flag_status == "reserved"  # ACF select "On Hold"
    v = result.vehicle
    assert v.make == "Toyota"
    assert v.model == "Land Cruiser"
    assert v.year == 2024  # dotted ACF path acf:specs.year
    assert v.title == "2024 Toyota Land Cruiser"  # empty post title
    assert v.price == 385000
    assert v.currency == "AED"
    assert v.kilometers == 11999  # distance_mi: 7,456 miles
    assert v.vin == "JTMABBBJ5P4012345"
    assert v.features == ["Panoramic sunroof", "Adaptive cruise control"]  # ACF labels
    assert v.exterior_color == "Pearl White"
    assert v.body_type == "SUV"  # acf:body is false (empty) -> term fallback
    assert v.salesperson == "Omar"
    assert v.description == "GCC spec, agency maintained."  # base default: post content
    assert v.images == [Image("https://cars.example-dealer.ae/uploads/lc-1.jpg")]  # base default: thumbnail
    assert v.listing_url == "https://cars.example-dealer.ae/car/land-cruiser-gr-sport/"
    assert v.modified_at == "2024-05-03T04:15:00+00:00"


def test_generic_price_fallback_and_status_second_source():
    post = load_post("generic_post")
    post.acf["price"] = "call for price"
    del post.acf["state"]
    post.meta["state"] = ["Sold"]
    result = map_post(post, get_preset("generic", generic_config()), current_year=YEAR)
    assert result.vehicle.price == 385000  # meta:price fallback
    assert result.flag_status == "sold"


def test_builtin_presets_are_plain_config():
    # The built-ins go through the same validator a site's TOML does.
    for config in (INVENTORY_PRESSER_CONFIG, MOTORS_CONFIG):
        assert preset_from_config(config) == PRESETS[config["slug"]]
    assert json.loads(json.dumps(INVENTORY_PRESSER_CONFIG)) == INVENTORY_PRESSER_CONFIG


def test_builtin_can_be_overlaid_field_by_field():
    preset = get_preset("inventory-presser", {"fields": {"trim": "acf:trim_level"}})
    post = load_post("inventory_presser_post", acf={"trim_level": "Lariat"})
    v = map_post(post, preset, current_year=YEAR).vehicle
    assert v.trim == "Lariat"
    assert v.make == "Ford"  # untouched fields keep the built-in mapping


def test_get_preset_errors():
    with pytest.raises(ValueError, match="unknown preset 'dealerpress'"):
        get_preset("dealerpress")
    with pytest.raises(ValueError, match="needs the site's mapping config"):
        get_preset("generic")
    assert get_preset("motors") is PRESETS["motors"]


def test_generic_defaults_for_omitted_parser():
    preset = preset_from_config({"post_types": ["car"], "fields": {"price": "meta:p", "kilometers": "meta:km"}})
    assert preset.fields["price"].parser == "money"
    assert preset.fields["kilometers"].parser == "distance"
    assert preset.distance_unit == "km"


def _broken(path: str, value: Any) -> dict[str, Any]:
    """The fixture config with one key (dotted path) replaced; value ... deletes it."""
    config = copy.deepcopy(generic_config())
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return config


CONFIG_ERRORS = [
    # (path to break, new value, expected flattened error prefix)
    ("fields.pricee", "acf:price", "fields.pricee: Unknown canonical field 'pricee'"),
    ("fields.status", "acf:state", "fields.status: Unknown canonical field 'status'"),  # computed, not mappable
    ("fields.make", "postmeta:car_make", "fields.make.source: unknown source prefix 'postmeta'"),
    ("fields.make", "car_make", "fields.make.source: source 'car_make' must look like"),
    ("fields.make", "meta:", "fields.make.source: source 'meta:' names no key"),
    ("fields.model", "post:guid", "fields.model.source: unknown post field 'guid'"),
    ("fields.price", {"source": "acf:price", "parser": "moneyy"}, "fields.price.parser: Unknown parser 'moneyy'"),
    ("fields.kilometers", {"source": "meta:odo", "parser": "text"}, "fields.kilometers.parser: Parser 'text'"),
    ("fields.price", {"source": "acf:price", "fallbacks": ["bogus"]}, "fields.price.fallbacks.0: source 'bogus'"),
    (
        "fields.price",
        {"source": "acf:price", "fallbacks": [{"source": "meta:p", "parser": "list"}]},
        "fields.price.fallbacks.0.parser: Parser 'list' produces list",
    ),
    ("fields.price", {"source": "acf:price", "parsr": "money"}, "fields.price.parsr: Unknown field."),
    ("fields.make", {"parser": "text"}, "fields.make.source: Missing data"),
    ("fields.make", {"source": "meta:x", "unit_source": "meta:u"}, "fields.make.unit_source: Only distance"),
    ("fields.make", 42, "fields.make: Must be a source string"),
    ("status.values.Sold", "gone", "status.values.Sold.value: Unknown status 'gone'"),
    ("status.source", "state", "status.source: source 'state' must look like"),
    ("status.source", ["acf:state", "nope:x"], "status.source.1: unknown source prefix 'nope'"),
    ("status.values", ..., "status.values: Missing data"),
    ("post_types", [], "post_types: Shorter than minimum length 1"),
    ("post_types", ..., "post_types: Missing data"),
    ("fields", ..., "fields: Missing data"),
    ("distance_unit", "furlongs", "distance_unit: Must be one of: km, mi"),
    ("currency", "dirham", "currency: String does not match expected pattern"),
    ("preset_name", "x", "preset_name: Unknown field"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), CONFIG_ERRORS, ids=[c[0] + "-" + repr(c[1]) for c in CONFIG_ERRORS]
)
def test_generic_config_errors_name_the_key(path, value, expected):
    with pytest.raises(ValidationError) as exc:
        preset_from_config(_broken(path, value))
    lines = config_error_messages(exc.value)
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines


def test_all_config_errors_reported_at_once():
    config = generic_config()
    config["fields"]["pricee"] = "acf:price"
    config["fields"]["kilometers"] = {"source": "meta:odo", "parser": "miles"}
    config["status"]["values"]["Sold"] = "gone"
    with pytest.raises(ValidationError) as exc:
        get_preset("generic", config)
    assert set(exc.value.messages) == {"fields", "status"}
    assert set(exc.value.messages["fields"]) == {"pricee", "kilometers"}
    assert len(config_error_messages(exc.value)) == 3


def test_status_rules_as_a_list():
    config = generic_config()
    config["status"] = [
        {"source": "acf:state", "values": {"Sold": "sold"}},
        {"source": "meta:flag", "values": {"yes": "sold"}},
    ]
    preset = preset_from_config(config)
    assert len(preset.status_rules) == 2  # a destination's override (carzle_status) is not the preset's
    with pytest.raises(ValidationError) as exc:
        preset_from_config({**config, "status": [{"source": "acf:state", "values": {"Sold": "sold"}}, "x"]})
    assert config_error_messages(exc.value)[0].startswith("status.1: Must be a table")


def test_mappable_fields_exclude_computed_ones():
    assert {"source", "car_ref", "status", "post_id", "modified_at", "warnings"}.isdisjoint(MAPPABLE_FIELDS)
    assert MAPPABLE_FIELDS["price"] == "int"
    assert MAPPABLE_FIELDS["features"] == "list"
    assert MAPPABLE_FIELDS["images"] == "images"


def test_unit_source_overrides_an_explicit_distance_parser():
    preset = preset_from_config(
        {
            "post_types": ["car"],
            "fields": {"kilometers": {"source": "meta:odo", "parser": "distance_mi", "unit_source": "meta:odo_unit"}},
        }
    )
    post = FakePost("1", "car", "publish", meta={"odo": ["1000"], "odo_unit": ["km"]})
    assert map_post(post, preset).vehicle.kilometers == 1000
    post.meta["odo_unit"] = [""]
    assert map_post(post, preset).vehicle.kilometers == 1609


def test_bare_delete_payload_maps_without_crashing():
    # A WordPress delete may carry only the post id (the post is already gone).
    result = map_post({"post_id": "877"}, PRESETS["motors"])
    assert result.vehicle.car_ref == "877"
    assert result.errors == {}
    assert result.flag_status is None
    assert result.vehicle.images == [] and result.vehicle.make is None
