"""Field-mapping presets: how a WordPress car post becomes a canonical :class:`Vehicle`.

A preset is *data*: for each canonical field, an ordered list of places to look
(``meta:<key>``, ``term:<taxonomy>``, ``acf:<key>``, ``post:<field>``) and a parser
name; plus status rules that read sold/reserved/coming-soon flags. The built-in
presets are written in exactly the shape a site's TOML ``[mapping]`` table uses and go
through the same validator, so "generic" sites and plugin presets share one code path:
:func:`map_post`.

Resolution of one field: try each source in order; blank values ("", "N/A",
``false`` from ACF) and "no value" results ("call for price", a price of 0) move on to
the next source; an unreadable value is remembered and the next source is tried. If a
later source supplies a value, the earlier failure becomes a warning; if none does,
it becomes ``errors[field]`` and the field stays ``None``. Nothing here raises for bad
post data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from marshmallow import RAISE, Schema, ValidationError, validate
from marshmallow import fields as mfields

from app.listings import parsing
from app.listings.parsing import ParseError, is_blank
from app.listings.vehicle import Vehicle
from app.messages import message_lines
from app.text import fold

__all__ = [
    "register_status_override",
    "FLAGS",
    "INVENTORY_PRESSER_CONFIG",
    "MAPPABLE_FIELDS",
    "MOTORS_CONFIG",
    "PARSERS",
    "POST_FIELDS",
    "PRESETS",
    "Candidate",
    "FieldSpec",
    "MappingResult",
    "PostLike",
    "Preset",
    "RefScheme",
    "Source",
    "StatusRule",
    "apply_parser",
    "compose_title",
    "config_error_messages",
    "get_preset",
    "is_no_value",
    "iso_utc",
    "map_post",
    "preset_from_config",
]

FLAGS = ("sold", "reserved", "coming_soon")
# Status-rule targets: a flag, or an explicit "no flag" that stops later rules.
_NO_FLAG_TARGETS = ("none", "active")
_UNKNOWN_PARSER = "Unknown parser {input!r}; must be one of: {choices}."
STATUS_TARGETS = (*FLAGS, *_NO_FLAG_TARGETS)

RefScheme = Literal["post_id", "stock_number", "vin"]


@runtime_checkable
class PostLike(Protocol):
    """The parsed WordPress event (``app.listings.formats``) as this module reads it.

    A plain ``Mapping`` with the same keys is accepted everywhere a ``PostLike`` is.
    """

    post_id: str
    post_type: str
    post_status: str
    title: str | None
    content: str | None
    meta: dict[str, list[Any]]
    terms: dict[str, list[str]]
    acf: dict[str, Any]
    thumbnail: str | None
    images: list[dict[str, Any]]
    permalink: str | None
    modified_gmt: datetime | None


# fmt: off
POST_FIELDS = (
    "post_id", "post_type", "post_status", "title", "content", "excerpt", "slug", "permalink",
    "thumbnail", "images", "modified_gmt",
)
# fmt: on
SOURCE_KINDS = ("meta", "term", "acf", "post")

# ----------------------------------------------------------------------------- parsers


@dataclass(frozen=True)
class _Ctx:
    field: str
    distance_unit: Literal["km", "mi"]
    current_year: int | None


ParserFn = Callable[[Any, _Ctx], tuple[Any, list[str]]]


@dataclass(frozen=True)
class _Parser:
    kind: str  # what it produces: int | str | list | images | bool
    fn: ParserFn
    scalar: bool = True  # reads the first non-blank item rather than the whole list


def _plain(fn: Callable[..., Any]) -> ParserFn:
    return lambda raw, ctx: (fn(raw, field=ctx.field), [])


def _vin(raw: Any, ctx: _Ctx) -> tuple[Any, list[str]]:
    return parsing.normalise_vin(raw, field=ctx.field)


PARSERS: dict[str, _Parser] = {
    "money": _Parser("int", _plain(parsing.parse_money)),
    # "distance" reads bare numbers in the preset's unit (Motors lets the site choose).
    "distance": _Parser(
        "int", lambda raw, ctx: (parsing.parse_distance_km(raw, ctx.distance_unit, field=ctx.field), [])
    ),
    "distance_km": _Parser("int", lambda raw, ctx: (parsing.parse_distance_km(raw, "km", field=ctx.field), [])),
    "distance_mi": _Parser("int", lambda raw, ctx: (parsing.parse_distance_km(raw, "mi", field=ctx.field), [])),
    "int": _Parser("int", _plain(parsing.parse_int)),
    "year": _Parser(
        "int",
        lambda raw, ctx: (parsing.parse_year(raw, field=ctx.field, current_year=ctx.current_year), []),
    ),
    "engine_cc": _Parser("int", _plain(parsing.parse_engine_cc)),
    "horsepower": _Parser("int", _plain(parsing.parse_horsepower)),
    "vin": _Parser("str", _vin),
    "text": _Parser("str", _plain(parsing.parse_text)),
    "html": _Parser("str", _plain(parsing.parse_html_text)),
    "condition": _Parser("str", _plain(parsing.canonical_condition)),
    "vehicle_type": _Parser("str", _plain(parsing.canonical_vehicle_type)),
    "list": _Parser("list", _plain(parsing.parse_list), scalar=False),
    "images": _Parser("images", _plain(parsing.parse_images), scalar=False),
    "bool": _Parser("bool", _plain(parsing.parse_bool)),
}

# Fields a mapping may fill. The rest are decided elsewhere: identity (source, car_ref,
# post_id), lifecycle (status), ordering (modified_at) and bookkeeping (warnings).
_COMPUTED_FIELDS = {"source", "car_ref", "status", "post_id", "modified_at", "warnings"}


def _field_kind(annotation: str) -> str:
    if annotation.startswith("int"):
        return "int"
    if annotation.startswith("str"):
        return "str"
    if annotation == "list[str]":
        return "list"
    if annotation == "list[Image]":
        return "images"
    raise TypeError(f"Vehicle field annotation {annotation!r} has no mapping kind")  # pragma: no cover


# Derived from Vehicle so a field added there is mappable without touching this file.
MAPPABLE_FIELDS: dict[str, str] = {
    f.name: _field_kind(str(f.type)) for f in dataclasses.fields(Vehicle) if f.name not in _COMPUTED_FIELDS
}

_DEFAULT_PARSER_BY_FIELD = {
    "price": "money",
    "msrp": "money",
    "cost_price": "money",
    "kilometers": "distance",
    "year": "year",
    "vin": "vin",
    "engine_cc": "engine_cc",
    "horsepower": "horsepower",
    "description": "html",
    "condition": "condition",
    "vehicle_type": "vehicle_type",
}
_DEFAULT_PARSER_BY_KIND = {"int": "int", "str": "text", "list": "list", "images": "images"}


def default_parser(field_name: str) -> str:
    """The parser used for ``field_name`` when a mapping does not name one."""
    return _DEFAULT_PARSER_BY_FIELD.get(field_name) or _DEFAULT_PARSER_BY_KIND[MAPPABLE_FIELDS[field_name]]


# ----------------------------------------------------------------------------- preset data


@dataclass(frozen=True)
class Source:
    """Where a value lives on a post: ``meta:<key>``, ``term:<taxonomy>``, ``acf:<path>``, ``post:<field>``."""

    kind: str
    key: str

    @classmethod
    def parse(cls, text: str) -> Source:
        if not isinstance(text, str) or ":" not in text:
            raise ValueError(f"source {text!r} must look like meta:<key>, term:<taxonomy>, acf:<key> or post:<field>")
        kind, _, key = text.partition(":")
        kind, key = kind.strip(), key.strip()
        if kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source prefix {kind!r} in {text!r}; use meta:, term:, acf: or post:")
        if not key:
            raise ValueError(f"source {text!r} names no key")
        if kind == "post" and key not in POST_FIELDS:
            raise ValueError(f"unknown post field {key!r}; known: {', '.join(POST_FIELDS)}")
        return cls(kind, key)

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class Candidate:
    source: Source
    parser: str | None = None  # None: the field's parser


@dataclass(frozen=True)
class FieldSpec:
    candidates: tuple[Candidate, ...]
    parser: str
    # Inventory Presser-style "odometer units" meta that overrides the default unit.
    unit_source: Source | None = None


@dataclass(frozen=True)
class StatusRule:
    """First non-blank source wins; its value is looked up in ``values``.

    ``values`` keys are normalised (case, accents, "-"/"_"/spaces folded) so
    "Coming Soon", "coming_soon" and "coming-soon" all match.
    """

    sources: tuple[Source, ...]
    values: Mapping[str, str]  # normalised raw value -> one of STATUS_TARGETS
    label: str = "status"


@dataclass(frozen=True)
class Preset:
    slug: str
    post_types: tuple[str, ...]
    fields: Mapping[str, FieldSpec]
    status_rules: tuple[StatusRule, ...] = ()
    distance_unit: Literal["km", "mi"] = "km"
    currency: str | None = None

    def handles(self, post_type: str) -> bool:
        return post_type in self.post_types


@dataclass
class MappingResult:
    vehicle: Vehicle
    errors: dict[str, str] = field(default_factory=dict)  # canonical field -> dealer-facing message
    warnings: list[str] = field(default_factory=list)
    flag_status: str | None = None  # sold / reserved / coming_soon from the status rules

    @property
    def ok(self) -> bool:
        return not self.errors


_status_key = fold


# A destination's own status field (Carzle's carzle_status ACF dropdown) is the dealer's
# explicit instruction for the marketplaces: it is honoured ahead of every preset's rules.
# The rule lives with its destination's package, which registers it here.
_OVERRIDE_RULES: list[StatusRule] = []


def register_status_override(rule: StatusRule) -> StatusRule:
    if rule not in _OVERRIDE_RULES:
        _OVERRIDE_RULES.append(rule)
    return rule


# ----------------------------------------------------------------------------- config schema


def _validate_source(text: Any) -> None:
    try:
        Source.parse(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class _SourceListField(mfields.Field):
    """One source string, or a list of them."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValidationError("Must be a source string or a non-empty list of source strings.")
        errors: dict[int, list[str]] = {}
        for i, item in enumerate(items):
            try:
                _validate_source(item)
            except ValidationError as exc:
                errors[i] = exc.messages if isinstance(exc.messages, list) else [str(exc)]
        if errors:
            raise ValidationError(errors if len(items) > 1 else errors[0])
        return items


class _CandidateSchema(Schema):
    class Meta:
        unknown = RAISE

    source = mfields.String(required=True, validate=_validate_source)
    parser = mfields.String(validate=validate.OneOf(sorted(PARSERS), error=_UNKNOWN_PARSER))


class _CandidateField(mfields.Field):
    """A fallback: ``"term:make"`` or ``{source = "acf:price", parser = "money"}``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(value, str):
            _validate_source(value)
            return {"source": value}
        if isinstance(value, Mapping):
            return _CandidateSchema().load(value)
        raise ValidationError("Must be a source string or a table with 'source' (and 'parser').")


class _FieldSpecSchema(Schema):
    class Meta:
        unknown = RAISE

    source = mfields.String(required=True, validate=_validate_source)
    parser = mfields.String(validate=validate.OneOf(sorted(PARSERS), error=_UNKNOWN_PARSER))
    fallbacks = mfields.List(_CandidateField(), load_default=list)
    unit_source = mfields.String(validate=_validate_source)


def _check_kind(field_name: str, parser: str) -> str | None:
    produced, wanted = PARSERS[parser].kind, MAPPABLE_FIELDS[field_name]
    if produced != wanted:
        return f"Parser {parser!r} produces {produced}, but {field_name!r} holds {wanted}."
    return None


class _FieldMapField(mfields.Field):
    """``{canonical_field: source-or-table}``; errors are keyed by the canonical name."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, FieldSpec]:
        if not isinstance(value, Mapping):
            raise ValidationError("Must be a table of canonical field = source.")
        errors: dict[str, Any] = {}
        out: dict[str, FieldSpec] = {}
        for name, spec in value.items():
            if name not in MAPPABLE_FIELDS:
                errors[name] = [f"Unknown canonical field {name!r}; known: {', '.join(sorted(MAPPABLE_FIELDS))}."]
                continue
            if isinstance(spec, str):
                spec = {"source": spec}
            if not isinstance(spec, Mapping):
                errors[name] = ["Must be a source string or a table with 'source'."]
                continue
            try:
                loaded = _FieldSpecSchema().load(spec)
            except ValidationError as exc:
                errors[name] = exc.messages
                continue
            parser = loaded.get("parser") or default_parser(name)
            field_errors: dict[str, Any] = {}
            if message := _check_kind(name, parser):
                field_errors["parser"] = [message]
            fallback_errors = {
                i: {"parser": [message]}
                for i, cand in enumerate(loaded["fallbacks"])
                if cand.get("parser") and (message := _check_kind(name, cand["parser"]))
            }
            if fallback_errors:
                field_errors["fallbacks"] = fallback_errors
            if "unit_source" in loaded and not parser.startswith("distance"):
                field_errors["unit_source"] = ["Only distance parsers take a unit_source."]
            if field_errors:
                errors[name] = field_errors
                continue
            out[name] = FieldSpec(
                candidates=(
                    Candidate(Source.parse(loaded["source"])),
                    *(Candidate(Source.parse(c["source"]), c.get("parser")) for c in loaded["fallbacks"]),
                ),
                parser=parser,
                unit_source=Source.parse(loaded["unit_source"]) if "unit_source" in loaded else None,
            )
        if errors:
            raise ValidationError(errors)
        return out


class _StatusRuleSchema(Schema):
    class Meta:
        unknown = RAISE

    source = _SourceListField(required=True)
    values = mfields.Dict(
        keys=mfields.String(validate=validate.Length(min=1)),
        values=mfields.String(
            validate=validate.OneOf(STATUS_TARGETS, error="Unknown status {input!r}; must be one of: {choices}.")
        ),
        required=True,
        validate=validate.Length(min=1),
    )


class _StatusField(mfields.Field):
    """One status rule table, or a list of them tried in order."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if isinstance(value, Mapping):
            return [_StatusRuleSchema().load(value)]
        if isinstance(value, list):
            errors: dict[int, Any] = {}
            rules = []
            for i, item in enumerate(value):
                try:
                    if not isinstance(item, Mapping):
                        raise ValidationError(["Must be a table with 'source' and 'values'."])
                    rules.append(_StatusRuleSchema().load(item))
                except ValidationError as exc:
                    errors[i] = exc.messages
            if errors:
                raise ValidationError(errors)
            return rules
        raise ValidationError("Must be a table with 'source' and 'values', or a list of them.")


class _PresetConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    slug = mfields.String(load_default="generic", validate=validate.Length(min=1))
    post_types = mfields.List(
        mfields.String(validate=validate.Length(min=1)), required=True, validate=validate.Length(min=1)
    )
    # "fields" would shadow Schema.fields, hence the data_key.
    field_map = _FieldMapField(required=True, data_key="fields")
    status = _StatusField(load_default=list)
    distance_unit = mfields.String(load_default="km", validate=validate.OneOf(["km", "mi"]))
    currency = mfields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Z]{3}$"))


# Every preset gets these unless its config says otherwise: they are WordPress itself,
# not plugin data.
_BASE_FIELDS: dict[str, Any] = {
    "title": "post:title",
    "description": "post:content",
    "images": {"source": "post:images", "fallbacks": ["post:thumbnail"]},
    "listing_url": "post:permalink",
}


def preset_from_config(config: Mapping[str, Any]) -> Preset:
    """Build a preset from a site's TOML mapping (or a built-in config of the same shape).

    Raises marshmallow ``ValidationError`` whose ``messages`` are keyed by path, e.g.
    ``{"fields": {"pricee": [...]}}``; :func:`config_error_messages` flattens them for logs.
    """
    if not isinstance(config, Mapping):
        raise ValidationError({"_schema": ["Mapping config must be a table."]})
    loaded = _PresetConfigSchema().load(dict(config))
    fields_ = _FieldMapField().deserialize(_BASE_FIELDS)
    fields_.update(loaded["field_map"])
    rules = []
    for rule in loaded["status"]:
        sources = rule["source"]
        rules.append(
            StatusRule(
                sources=tuple(Source.parse(s) for s in sources),
                values={_status_key(k): v for k, v in rule["values"].items()},
                label=sources[0],
            )
        )
    return Preset(
        slug=loaded["slug"],
        post_types=tuple(loaded["post_types"]),
        fields=fields_,
        status_rules=tuple(rules),
        distance_unit=loaded["distance_unit"],
        currency=loaded["currency"],
    )


def config_error_messages(error: ValidationError) -> list[str]:
    """Flatten nested marshmallow messages into ``"fields.price.parser: …"`` lines."""
    return message_lines(error.messages)


# ----------------------------------------------------------------------------- built-in presets

_IP = "meta:inventory_presser_"

# Inventory Presser (fridaysystems). US-centric: the odometer is a bare number of miles
# (its "kilometers" add-on only relabels the unit), so miles are the default and an
# ``inventory_presser_odometer_units`` meta of "km" switches a site over. Year/make/model
# and friends are mirrored into taxonomies by the plugin; terms are the fallback when
# the meta copy is missing. Body style's taxonomy is ``style`` in the plugin; ``body_style``
# is tried first for sites that registered it under that name.
INVENTORY_PRESSER_CONFIG: dict[str, Any] = {
    "slug": "inventory-presser",
    "post_types": ["inventory_vehicle"],
    "distance_unit": "mi",
    "fields": {
        "make": {"source": f"{_IP}make", "fallbacks": ["term:make"]},
        "model": {"source": f"{_IP}model", "fallbacks": ["term:model"]},
        "year": {"source": f"{_IP}year", "fallbacks": ["term:model_year"]},
        "trim": f"{_IP}trim",
        "price": f"{_IP}price",
        "msrp": f"{_IP}msrp",
        "kilometers": {"source": f"{_IP}odometer", "unit_source": f"{_IP}odometer_units"},
        "vin": f"{_IP}vin",
        "stock_number": f"{_IP}stock_number",
        "exterior_color": {"source": f"{_IP}color", "fallbacks": ["term:colors"]},
        "interior_color": f"{_IP}interior_color",
        "body_type": {"source": f"{_IP}body_style", "fallbacks": ["term:body_style", "term:style"]},
        "transmission": {"source": f"{_IP}transmission", "fallbacks": ["term:transmission"]},
        "fuel_type": {"source": f"{_IP}fuel", "fallbacks": ["term:fuel"]},
        "drive_type": {"source": f"{_IP}drive_type", "fallbacks": ["term:drive_type"]},
        "engine": f"{_IP}engine",
        "doors": f"{_IP}doors",
        "condition": {"source": f"{_IP}condition", "fallbacks": ["term:condition"]},
        "description": {"source": f"{_IP}description", "fallbacks": ["post:content"]},
        "features": f"{_IP}options_array",
        # inventory_presser_photos holds attachment ids, not URLs: deliberately unused.
        "images": {"source": "post:images", "fallbacks": ["post:thumbnail"]},
    },
    "status": {
        "source": [f"{_IP}availability", "term:availability"],
        "values": {
            "For Sale": "none",
            "Sold": "sold",
            "Pending": "reserved",
            "Sale Pending": "reserved",  # Inventory Presser's own term name
            "Reserved": "reserved",
            "Coming Soon": "coming_soon",
        },
    },
}

# Motors (StylemixThemes). Listing attributes are taxonomies whose *names* are what buyers
# read ("Mercedes-Benz"); the plugin also copies the term *slug* into same-named meta
# ("mercedes-benz"), so terms come first for labels and meta is the fallback. Numbers
# (price, mileage) are meta first. Sale price wins when set: a sale_price of 0/blank
# counts as unset and falls through to price. Mileage units are a theme setting, so the
# default is the preset's ``distance_unit`` (km unless the site's config says "mi").
MOTORS_CONFIG: dict[str, Any] = {
    "slug": "motors",
    "post_types": ["listings"],
    "distance_unit": "km",
    "fields": {
        "make": {"source": "term:make", "fallbacks": ["meta:make"]},
        "model": {"source": "term:serie", "fallbacks": ["meta:serie"]},
        "year": {"source": "term:ca-year", "fallbacks": ["meta:ca-year"]},
        "price": {"source": "meta:sale_price", "fallbacks": ["meta:price"]},
        "stock_number": "meta:stock_number",
        "vin": "meta:vin_number",
        "kilometers": {"source": "meta:mileage", "fallbacks": ["term:mileage"]},
        "engine": {"source": "meta:engine", "fallbacks": ["term:engine"]},
        "exterior_color": {"source": "term:exterior-color", "fallbacks": ["meta:exterior-color"]},
        "fuel_type": {"source": "term:fuel", "fallbacks": ["meta:fuel"]},
        "body_type": {"source": "term:body", "fallbacks": ["meta:body"]},
        "condition": {"source": "term:condition", "fallbacks": ["meta:condition"]},
        "transmission": {"source": "term:transmission", "fallbacks": ["meta:transmission"]},
        "drive_type": {"source": "term:drive", "fallbacks": ["meta:drive"]},
        "features": "meta:additional_features",
        # gallery is attachment ids on stock installs; URLs there (imports) are used.
        "images": {"source": "post:images", "fallbacks": ["post:thumbnail", "meta:gallery"]},
    },
    "status": {
        "source": "meta:car_mark_as_sold",
        "values": {
            "on": "sold",
            "1": "sold",
            "yes": "sold",
            "true": "sold",
            "sold": "sold",
            "off": "none",
            "0": "none",
            "no": "none",
            "false": "none",
        },
    },
}

PRESETS: dict[str, Preset] = {
    config["slug"]: preset_from_config(config) for config in (INVENTORY_PRESSER_CONFIG, MOTORS_CONFIG)
}
_BUILTIN_CONFIGS = {c["slug"]: c for c in (INVENTORY_PRESSER_CONFIG, MOTORS_CONFIG)}


def get_preset(slug: str, generic_config: Mapping[str, Any] | None = None) -> Preset:
    """Look up a preset by slug.

    ``"generic"`` needs ``generic_config``. For a built-in slug a config is optional and
    *overlays* the built-in: its ``fields`` entries replace the built-in ones key by key,
    other top-level keys (``post_types``, ``status``, ``distance_unit``, ``currency``)
    replace wholesale — e.g. ``get_preset("motors", {"distance_unit": "mi"})``.
    Raises ``ValueError`` for an unknown slug, ``ValidationError`` for a bad config.
    """
    if slug == "generic":
        if generic_config is None:
            raise ValueError("preset 'generic' needs the site's mapping config")
        return preset_from_config({"slug": "generic", **generic_config})
    if slug not in PRESETS:
        raise ValueError(f"unknown preset {slug!r}; known: generic, {', '.join(sorted(PRESETS))}")
    if not generic_config:
        return PRESETS[slug]
    base = _BUILTIN_CONFIGS[slug]
    merged = {**base, **generic_config, "slug": slug}
    merged["fields"] = {**base["fields"], **(generic_config.get("fields") or {})}
    return preset_from_config(merged)


# ----------------------------------------------------------------------------- interpreter


def _attr(post: Any, name: str) -> Any:
    if isinstance(post, Mapping):
        return post.get(name)
    return getattr(post, name, None)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _fetch(post: Any, source: Source) -> list[Any]:
    """Non-blank raw values at ``source``; always a list (meta and terms are multi-valued)."""
    if source.kind == "meta":
        items = _as_list((_attr(post, "meta") or {}).get(source.key))
    elif source.kind == "term":
        items = [
            t.get("name") if isinstance(t, Mapping) else t
            for t in _as_list((_attr(post, "terms") or {}).get(source.key))
        ]
    elif source.kind == "acf":
        node: Any = _attr(post, "acf") or {}
        for part in source.key.split("."):  # dotted paths reach into ACF groups
            node = node.get(part) if isinstance(node, Mapping) else None
        items = _as_list(node)
    else:
        items = _as_list(_attr(post, source.key))
    return [item for item in items if not is_blank(item)]


def _unwrap_choice(item: Any, prefer: str) -> Any:
    # ACF select/radio with return format "both" gives {"value": ..., "label": ...}.
    if isinstance(item, Mapping) and ("value" in item or "label" in item):
        other = "label" if prefer == "value" else "value"
        return item.get(prefer) if not is_blank(item.get(prefer)) else item.get(other)
    return item


def apply_parser(
    name: str,
    raw: Any,
    *,
    field: str,
    distance_unit: Literal["km", "mi"] = "km",
    current_year: int | None = None,
) -> tuple[Any, list[str]]:
    """Run parser ``name`` on a raw value (or list of raw values). Raises ``ParseError``."""
    parser = PARSERS[name]
    items = _as_list(raw)
    if parser.scalar:
        prefer = "label" if parser.kind == "str" else "value"
        items = [_unwrap_choice(i, prefer) for i in items]
        items = [i for i in items if not is_blank(i)]
        value: Any = items[0] if items else None
    else:
        value = items
    return parser.fn(value, _Ctx(field, distance_unit, current_year))


# fmt: off
_UNIT_WORDS = {
    "mi": "mi", "mile": "mi", "miles": "mi", "mls": "mi",
    "km": "km", "kms": "km", "kilometer": "km", "kilometers": "km", "kilometre": "km",
    "kilometres": "km",
}
# fmt: on


def _unit_override(post: Any, spec: FieldSpec, warnings: list[str], field_name: str) -> str | None:
    """The unit named by the field's ``unit_source`` (Inventory Presser-style), if any."""
    if spec.unit_source is None:
        return None
    found = _fetch(post, spec.unit_source)
    if not found:
        return None
    word = str(_unwrap_choice(found[0], "value")).strip().casefold()
    if word not in _UNIT_WORDS:
        warnings.append(f"{field_name}: unknown odometer unit {found[0]!r} in {spec.unit_source}; ignored")
        return None
    return _UNIT_WORDS[word]


def _distance_default(parser: str, preset: Preset) -> Literal["km", "mi"]:
    return {"distance_km": "km", "distance_mi": "mi"}.get(parser, preset.distance_unit)  # type: ignore[return-value]


def is_no_value(parser: str, value: Any) -> bool:
    """Parsed values that mean "nothing here", so the next source is tried."""
    # Dealers enter 0 for "call for price": a 0 price is never a real listing price, and
    # treating it as absent lets Motors' sale_price (0 = unset) fall back to price.
    return value is None or value == [] or (parser == "money" and value == 0)


def _resolve(
    post: Any, name: str, spec: FieldSpec, preset: Preset, current_year: int | None
) -> tuple[Any, str | None, list[str]]:
    warnings: list[str] = []
    failure: tuple[str, Source] | None = None
    unit_override = _unit_override(post, spec, warnings, name)
    for cand in spec.candidates:
        raw = _fetch(post, cand.source)
        if not raw:
            continue
        parser = cand.parser or spec.parser
        run, unit = parser, preset.distance_unit
        if parser.startswith("distance"):
            # The parser names the default unit; a unit_source value overrides it, and a
            # unit written in the value itself ("24,500 km") overrides both.
            run, unit = "distance", unit_override or _distance_default(parser, preset)
        try:
            value, parse_warnings = apply_parser(run, raw, field=name, distance_unit=unit, current_year=current_year)
        except ParseError as exc:
            failure = failure or (str(exc), cand.source)
            continue
        if is_no_value(parser, value):
            continue
        if failure:
            warnings.append(f"{failure[0]} (in {failure[1]}); used {cand.source} instead")
        return value, None, warnings + parse_warnings
    return None, failure[0] if failure else None, warnings


def _flag(post: Any, preset: Preset) -> tuple[str | None, list[str]]:
    """First rule with a recognised value decides; unrecognised values only warn."""
    warnings: list[str] = []
    for rule in (*_OVERRIDE_RULES, *preset.status_rules):
        for source in rule.sources:
            raw_items = [_unwrap_choice(i, "value") for i in _fetch(post, source)]
            if not raw_items:
                continue
            # Inventory Presser's availability taxonomy can hold "For Sale" *and*
            # "Wholesale"; any flag among the values beats an explicit "none".
            targets = [rule.values.get(_status_key(i)) for i in raw_items if not is_blank(i)]
            flags = [t for t in targets if t in FLAGS]
            if flags:
                return flags[0], warnings
            if any(t in _NO_FLAG_TARGETS for t in targets):
                return None, warnings
            shown = ", ".join(repr(i) for i in raw_items)
            warnings.append(
                f"status: {rule.label} value {shown} in {source} is not one of "
                f"{', '.join(sorted(set(rule.values)))}; ignored"
            )
            break  # the rule's first non-blank source is authoritative, recognised or not
    return None, warnings


def compose_title(year: int | None, make: str | None, model: str | None, trim: str | None) -> str | None:
    """ "{year} {make} {model} {trim}" without the gaps of missing parts."""
    parts = [str(p) for p in (year, make, model, trim) if p not in (None, "")]
    return " ".join(parts) or None


def iso_utc(value: Any) -> str | None:
    """A datetime (naive = UTC) or ISO string as ISO 8601 in UTC; None if unreadable."""
    # WordPress' *_gmt fields are UTC even when naive. isoformat keeps "+00:00", which
    # sorts correctly against fractional seconds ("…:00+00:00" < "…:00.5+00:00").
    if isinstance(value, datetime):
        dt = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return dt.isoformat()
    if isinstance(value, str) and value.strip():
        try:
            return iso_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def map_post(
    post: PostLike | Mapping[str, Any],
    preset: Preset,
    *,
    site_ref_scheme: RefScheme = "post_id",
    current_year: int | None = None,
) -> MappingResult:
    """Map a WordPress car post to a :class:`Vehicle` using ``preset``.

    ``vehicle.status`` is left ``None``: the lifecycle needs the event and publish history,
    so callers pass ``result.flag_status`` to :func:`app.listings.status.decide_status`.

    ``site_ref_scheme`` picks ``car_ref`` (Carzle's ``externalRef``): ``post_id`` (default,
    always present), ``stock_number`` or ``vin``. Schemes are never mixed within a site, so a
    post lacking the chosen value gets ``errors["car_ref"]`` and ``car_ref == ""`` instead of
    silently falling back to another scheme.
    """
    if site_ref_scheme not in ("post_id", "stock_number", "vin"):
        raise ValueError(f"unknown site_ref_scheme {site_ref_scheme!r}")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    warnings: list[str] = []

    post_type = _attr(post, "post_type")
    if post_type and not preset.handles(str(post_type)):
        warnings.append(
            f"post type {post_type!r} is not one of preset {preset.slug!r}'s car types ({', '.join(preset.post_types)})"
        )

    for name, spec in preset.fields.items():
        value, error, field_warnings = _resolve(post, name, spec, preset, current_year)
        warnings.extend(field_warnings)
        if error:
            errors[name] = error
        elif value is not None:
            values[name] = value

    if not values.get("title"):
        title = compose_title(values.get("year"), values.get("make"), values.get("model"), values.get("trim"))
        if title:
            values["title"] = title
    if preset.currency and "currency" not in values:
        values["currency"] = preset.currency

    flag, flag_warnings = _flag(post, preset)
    warnings.extend(flag_warnings)

    post_id = _attr(post, "post_id")
    post_id = None if post_id in (None, "") else str(post_id)
    ref_value = {"post_id": post_id, "stock_number": values.get("stock_number"), "vin": values.get("vin")}[
        site_ref_scheme
    ]
    if not ref_value:
        errors["car_ref"] = f"car_ref: the site identifies cars by {site_ref_scheme}, and this post has none"

    vehicle = Vehicle(
        source="wordpress",
        car_ref=str(ref_value or ""),
        post_id=post_id,
        modified_at=iso_utc(_attr(post, "modified_gmt")),
        warnings=list(warnings),
        **values,
    )
    return MappingResult(vehicle=vehicle, errors=errors, warnings=warnings, flag_status=flag)
