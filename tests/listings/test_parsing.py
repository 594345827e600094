from decimal import Decimal

import pytest

from app.listings import parsing
from app.listings.parsing import (
    ParseError,
    canonical_condition,
    canonical_vehicle_type,
    normalise_vin,
    parse_bool,
    parse_distance_km,
    parse_engine_cc,
    parse_horsepower,
    parse_html_text,
    parse_images,
    parse_int,
    parse_list,
    parse_money,
    parse_text,
    parse_year,
    vin_check_digit,
)
from app.listings.vehicle import Image

ERR = ParseError  # marks rows that must raise

# (parser, input, expected). ``kwargs`` rows use a dict for the input.
NUMBER_TABLE = [
    # --- money
    (parse_money, "$28,995", 28995),
    (parse_money, "28.995 €", 28995),
    (parse_money, "€28.995,-", 28995),
    (parse_money, "28 995 kr", 28995),
    (parse_money, "AED 385,000", 385000),
    (parse_money, "£12.5k", 12500),
    (parse_money, "1,234.56", 1235),
    (parse_money, "1.234,56", 1235),
    (parse_money, "1.500", 1500),  # \d{1,3}([.,]\d{3})+ is grouping, not 1.5
    (parse_money, "1.5", 2),  # a genuine decimal: whole units, half-up
    (parse_money, "28995.50", 28996),
    (parse_money, "1'234'567", 1234567),
    (parse_money, "Price: $28,995 + VAT", 28995),
    (parse_money, "£8,495 ono", 8495),
    (parse_money, 34500, 34500),
    (parse_money, 27345.67, 27346),
    (parse_money, ["21990"], 21990),  # WordPress meta shape
    (parse_money, "", None),
    (parse_money, "   ", None),
    (parse_money, None, None),
    (parse_money, "N/A", None),
    (parse_money, "Call for price", None),
    (parse_money, "POA", None),
    (parse_money, "p.o.a.", None),
    (parse_money, "Precio a consultar", None),
    (parse_money, "12abc34", ERR),
    (parse_money, "abc", ERR),
    (parse_money, "-500", ERR),
    (parse_money, "$-500", ERR),
    (parse_money, -1, ERR),
    (parse_money, "20,000 - 25,000", ERR),
    (parse_money, "1,23,4", ERR),
    (parse_money, True, ERR),
    (parse_money, float("nan"), ERR),
    # --- distance
    (parse_distance_km, "39 000 km", 39000),
    (parse_distance_km, "39000km", 39000),
    (parse_distance_km, "24,500 mi", 39429),
    (parse_distance_km, "24,500 miles", 39429),
    (parse_distance_km, "45k miles", 72420),
    (parse_distance_km, "0", 0),  # a new car: 0 is a value, not "missing"
    (parse_distance_km, 15000, 15000),
    (parse_distance_km, "N/A", None),
    (parse_distance_km, "", None),
    (parse_distance_km, "-5 km", ERR),
    (parse_distance_km, "lots", ERR),
    (parse_distance_km, "10 km / 6 mi", ERR),
    # --- integers, engine, power
    (parse_int, "4", 4),
    (parse_int, "5 doors", 5),
    (parse_int, "150 hp", 150),
    (parse_int, "2,0", 2),
    (parse_int, 7.0, 7),
    (parse_int, "N/A", None),
    (parse_int, "4.5", ERR),
    (parse_int, "-1", ERR),
    (parse_int, "4/5", ERR),
    (parse_int, "12abc34", ERR),
    (parse_engine_cc, "1.6L", 1600),
    (parse_engine_cc, "2,0", 2000),
    (parse_engine_cc, "1598 cc", 1598),
    (parse_engine_cc, "1,598cm3", 1598),
    (parse_engine_cc, 1498, 1498),
    (parse_engine_cc, "2.0 TDI", ERR),
    (parse_horsepower, "150 hp", 150),
    (parse_horsepower, "150 CV", 150),
    (parse_horsepower, "110 kW", 148),
    (parse_horsepower, 245, 245),
    (parse_horsepower, "fast", ERR),
]


@pytest.mark.parametrize(
    ("parser", "raw", "expected"),
    NUMBER_TABLE,
    ids=[f"{p.__name__}-{r!r}" for p, r, _ in NUMBER_TABLE],
)
def test_number_table(parser, raw, expected):
    if expected is ERR:
        with pytest.raises(ParseError):
            parser(raw)
    else:
        assert parser(raw) == expected


def test_table_is_big_enough_and_has_nonsense():
    assert len(NUMBER_TABLE) >= 25
    assert sum(1 for *_, e in NUMBER_TABLE if e is ERR) >= 10


def test_money_error_message_names_field_and_value():
    with pytest.raises(ParseError) as exc:
        parse_money("12abc34")
    assert str(exc.value) == "price: could not read '12abc34' as money"
    assert exc.value.field == "price"
    assert exc.value.value == "12abc34"


def test_negative_money_message():
    with pytest.raises(ParseError, match=r"^msrp: negative amount '-500'$"):
        parse_money("-500", field="msrp")


def test_distance_default_unit_applies_to_bare_numbers_only():
    assert parse_distance_km("24500", "mi") == 39429
    assert parse_distance_km("24500", "km") == 24500
    assert parse_distance_km("24500 km", "mi") == 24500  # explicit unit wins
    assert parse_distance_km(Decimal("1"), "mi") == 2
    with pytest.raises(ValueError):
        parse_distance_km("1", "furlongs")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2019", 2019), (2019, 2019), ("1886", 1886), ("2026", 2026), ("", None), ("N/A", None)],
)
def test_year_in_range(raw, expected):
    assert parse_year(raw, current_year=2025) == expected


@pytest.mark.parametrize("raw", ["1885", "2027", "19", "abc", "2019-05", "-2019"])
def test_year_out_of_range_or_nonsense(raw):
    with pytest.raises(ParseError, match=r"^year: "):
        parse_year(raw, current_year=2025)


# (input, expected vin, expected warnings count) / ERR
VIN_TABLE = [
    ("1M8GDM9AXKP042788", "1M8GDM9AXKP042788", 0),  # check digit X
    ("1hgcm82633a004352", "1HGCM82633A004352", 0),  # lower-case
    ("1HG CM826-33A0 04352", "1HGCM82633A004352", 0),  # spaces and dashes
    ("11111111111111111", "11111111111111111", 0),
    ("1FTEW1E56KFA12345", "1FTEW1E56KFA12345", 0),
    ("WVWZZZE1ZNP123456", "WVWZZZE1ZNP123456", 1),  # European: position 9 is no check digit
    ("1HGCM82643A004352", "1HGCM82643A004352", 1),  # wrong check digit: warning only
    ("", None, 0),
    (None, None, 0),
    (["1M8GDM9AXKP042788"], "1M8GDM9AXKP042788", 0),
    ("1HGCM82633A00435", ERR, 0),  # 16 chars
    ("1HGCM82633A0043521", ERR, 0),  # 18 chars
    ("1HGCM82633I004352", ERR, 0),  # I
    ("1HGCM82633O004352", ERR, 0),  # O
    ("1HGCQ82633A004352", ERR, 0),  # Q
    ("1HGCM82633A00435*", ERR, 0),
    (12345678901234567, ERR, 0),
]


@pytest.mark.parametrize(("raw", "expected", "n_warnings"), VIN_TABLE, ids=[repr(r[0]) for r in VIN_TABLE])
def test_vin_table(raw, expected, n_warnings):
    if expected is ERR:
        with pytest.raises(ParseError, match=r"^vin: "):
            normalise_vin(raw)
        return
    vin, warnings = normalise_vin(raw)
    assert vin == expected
    assert len(warnings) == n_warnings


def test_vin_messages_are_specific():
    with pytest.raises(ParseError, match="has 16 characters; a VIN has 17"):
        normalise_vin("1HGCM82633A00435")
    with pytest.raises(ParseError, match=r"contains I, O \(VINs never use I, O or Q\)"):
        normalise_vin("1HGCO82633I004352")


def test_vin_check_digit_warning_text():
    _, warnings = normalise_vin("1HGCM82643A004352")
    assert warnings == [
        "vin: check digit of 1HGCM82643A004352 is '4', North-American rule expects '3' (expected outside North America)"
    ]
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["ABS", "Sunroof"], ["ABS", "Sunroof"]),
        ('["ABS", "Sunroof", "ABS"]', ["ABS", "Sunroof"]),
        ("ABS, Sunroof, Heated seats", ["ABS", "Sunroof", "Heated seats"]),
        ("ABS|Sunroof|Heated seats", ["ABS", "Sunroof", "Heated seats"]),
        ("ABS\nHeated seats, front\nSunroof", ["ABS", "Heated seats, front", "Sunroof"]),
        ('a:2:{i:0;s:3:"ABS";i:1;s:10:"Sunroof™";}', ["ABS", "Sunroof™"]),
        (["Backup Camera", "Bluetooth|Tow Package"], ["Backup Camera", "Bluetooth", "Tow Package"]),
        ([{"value": "acc", "label": "Adaptive cruise"}], ["Adaptive cruise"]),
        ("[Leather seats]", ["[Leather seats]"]),
        ("", []),
        (None, []),
        ([], []),
    ],
)
def test_parse_list(raw, expected):
    assert parse_list(raw) == expected


def test_corrupt_php_serialized_list_is_an_error():
    with pytest.raises(ParseError, match="PHP-serialized"):
        parse_list('a:2:{i:0;s:9:"ABS";}')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("on", True), ("1", True), ("Yes", True), (True, True), (1, True), ("off", False), ("0", False), ("", None)],
)
def test_parse_bool(raw, expected):
    assert parse_bool(raw) is expected


def test_parse_bool_rejects_nonsense():
    with pytest.raises(ParseError):
        parse_bool("maybe")


def test_text_decodes_entities_and_collapses_space():
    assert parse_text("  Ford &amp; Sons\n F-150 ") == "Ford & Sons F-150"
    assert parse_text(2019) == "2019"
    assert parse_text("") is None
    with pytest.raises(ParseError):
        parse_text({"a": 1})


def test_html_text_strips_markup_and_builder_shortcodes():
    raw = (
        "[vc_row][vc_column][vc_column_text]<p>Full <b>BMW</b> history &amp; two keys.</p>"
        "<ul><li>Sunroof</li><li>Nav</li></ul>[/vc_column_text][/vc_column][/vc_row]"
        "<script>track()</script><p>[Sold as seen]</p>"
    )
    assert parse_html_text(raw) == "Full BMW history & two keys.\n\n- Sunroof\n- Nav\n\n[Sold as seen]"
    assert parse_html_text("Line one\nLine two") == "Line one\nLine two"
    assert parse_html_text("<p> </p>") is None


def test_images_keep_urls_and_drop_attachment_ids():
    assert parse_images(
        [{"url": "https://x.test/1.jpg", "id": 11}, "https://x.test/2.jpg", "312", {"url": "ftp://x/3.jpg"}]
    ) == [Image("https://x.test/1.jpg", "11"), Image("https://x.test/2.jpg")]
    assert parse_images("https://x.test/1.jpg, https://x.test/2.jpg") == [
        Image("https://x.test/1.jpg"),
        Image("https://x.test/2.jpg"),
    ]
    assert parse_images(["311", "312"]) == []
    assert parse_images(["https://x.test/1.jpg", "https://x.test/1.jpg"]) == [Image("https://x.test/1.jpg")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("motorbike", "motorcycle"), ("Motorcycle", "motorcycle"), ("Car", "car"), ("van", "van"), ("Quad", "quad")],
)
def test_vehicle_type_aliases(raw, expected):
    assert canonical_vehicle_type(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("New", "new"), ("Used", "used"), ("ocasión", "used"), ("Nearly New", "Nearly New"), ("", None)],
)
def test_condition(raw, expected):
    assert canonical_condition(raw) == expected


@pytest.mark.parametrize("parse", [parsing.parse_money, parsing.parse_distance_km, parsing.parse_engine_cc,
                                   parsing.parse_horsepower], ids=["money", "distance", "engine", "power"])
@pytest.mark.parametrize("typed", ["1" * 40, "9" * 13, 1e300])
def test_a_row_of_digits_is_a_field_error_not_a_crash(parse, typed):
    with pytest.raises(parsing.ParseError, match="not a plausible figure|could not read"):
        parse(typed)
