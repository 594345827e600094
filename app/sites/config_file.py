"""The declarative TOML file of dealer sites and destinations (``FORECOURT_CONFIG``).

Secrets are written as ``${ENV_VAR}`` and substituted at load time, so the file itself can be
committed. Validation errors name the key path (``sites[0].destinations[1].api_key``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from app.config import ConfigError
from app.extensions import db
from app.messages import flatten_messages
from app.sites.dealer import DealerProfileSchema
from app.sites.models import Destination, Site

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PRESETS = ("inventory-presser", "motors", "generic")


def _marketplaces() -> list[str]:
    from app.connectors import available

    return available()


def credential_fields(marketplace: str) -> tuple[str, ...]:
    """A destination's credential keys come from its connector; other keys are options."""
    from app.connectors import get_connector_class

    try:
        return tuple(get_connector_class(marketplace).credential_fields)
    except KeyError:
        return ()


def _missing_credentials(data: dict, original: dict) -> list[str]:
    from app.connectors import get_connector_class

    try:
        cls = get_connector_class(data.get("marketplace", ""))
    except KeyError:
        return []
    return cls.missing_credentials({k: original.get(k) for k in cls.credential_fields})


PRESET_POST_TYPES = {"inventory-presser": ["inventory_vehicle"], "motors": ["listings"]}


def substitute(value: Any, path: str, environ: Mapping[str, str], errors: dict[str, str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                errors[path] = f"environment variable {name} is not set"
                return ""
            return environ[name]

        return _VAR.sub(replace, value)
    if isinstance(value, list):
        return [substitute(item, f"{path}[{i}]", environ, errors) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            key: substitute(item, f"{path}.{key}" if path else key, environ, errors)
            for key, item in value.items()
        }
    return value


class StrOrList(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise ValidationError("must be a non-empty string or a list of them")
        return items


def _known_marketplace(value: str) -> None:
    known = _marketplaces()
    if value not in known:
        raise ValidationError(f"Must be one of: {', '.join(known)} (marketplaces with a connector).")


class DestinationSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # other keys are connector options, collected separately

    marketplace = fields.String(required=True, validate=lambda v: _known_marketplace(v))
    base_url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    enabled = fields.Boolean(load_default=True)

    @validates_schema(pass_original=True)
    def _credentials(self, data: dict, original: dict, **kwargs: Any) -> None:
        missing = {
            name: ["Missing data for required field."] for name in _missing_credentials(data, original)
        }
        if missing:
            raise ValidationError(missing)


class SiteSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Regexp(SITE_ID, error="must match [a-z0-9_-], ≤ 64 chars"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    wordpress_url = fields.Url(load_default=None, schemes={"http", "https"}, require_tld=False)
    webhook_secret = StrOrList(required=True)
    dms_api_key = StrOrList(load_default=list)
    wp_webhooks_auth = fields.Raw(load_default=None)
    # How a marketplace pulling the stock (GET /feeds/<marketplace>/<site>) authenticates: the
    # same template shapes (api_key / bearer / basic), a list while rotating.
    feed_pull_auth = fields.Raw(load_default=None)
    preset = fields.String(required=True, validate=validate.OneOf(PRESETS))
    car_post_types = fields.List(fields.String(), load_default=None)
    mapping = fields.Dict(load_default=dict)
    destinations = fields.List(fields.Dict(), load_default=list)


# An HTTP header name (RFC 9110 token); WP Webhooks sends whatever the dealer typed.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_AUTH_REQUIRED = {"api_key": ("header", "key"), "bearer": ("token",), "basic": ("username", "password")}


class WpWebhooksAuthSchema(Schema):
    """One WP Webhooks 3.x "Authentication" template, as its settings screen offers them."""

    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(tuple(_AUTH_REQUIRED)))
    header = fields.String(validate=validate.Regexp(_HEADER_NAME, error="must be an HTTP header name"))
    key = fields.String(validate=validate.Length(min=1))
    token = fields.String(validate=validate.Length(min=1))
    # RFC 7617: the user-id of Basic auth cannot contain a colon.
    username = fields.String(validate=validate.Regexp(r"^[^:]+$", error="must be non-empty and have no ':'"))
    password = fields.String(validate=validate.Length(min=1))

    @validates_schema
    def _fields_for_type(self, data: dict, **kwargs: Any) -> None:
        needed = _AUTH_REQUIRED.get(data.get("type", ""), ())
        errors: dict[str, list[str]] = {
            name: [f"Required for type {data['type']!r}."] for name in needed if not data.get(name)
        }
        errors.update({
            name: [f"Not used by type {data['type']!r}."]
            for name in set(data) - set(needed) - {"type"}
        })
        if data.get("type") == "api_key" and data.get("header", "").lower() == "authorization":
            errors["header"] = ["Use type 'bearer' or 'basic' for the Authorization header."]
        if errors:
            raise ValidationError(errors)


def _load_wp_webhooks_auth(value: Any, path: str, errors: dict[str, str]) -> list[dict[str, str]]:
    """A template or a list of them (rotation); errors are keyed by the template's path."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    loaded = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]" if isinstance(value, list) else path
        if not isinstance(item, dict):
            errors[where] = "must be a table like {type = \"bearer\", token = \"${WPWH_TOKEN}\"}"
            continue
        try:
            loaded.append(WpWebhooksAuthSchema().load(item))
        except ValidationError as exc:
            _merge(errors, flatten_messages(exc.messages, where))
    return loaded


class SiteOptionsSchema(Schema):
    """Site keys the engine reads; typed here so a typo or a wrong type fails at start-up."""

    class Meta:
        unknown = EXCLUDE

    full_replace_grace_feeds = fields.Integer(validate=validate.Range(min=1, max=100), strict=True)
    full_replace_grace_hours = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    reconcile_remove_orphans = fields.Boolean()
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code like AED"))
    # Leads (app.leads): the form plugin whose field names the lead hook reads, single fields
    # mapped on top of it, and the region of phone numbers given without a country code.
    lead_form = fields.String(validate=validate.OneOf(("forecourt", "contact-form-7", "gravity-forms", "wpforms")))
    lead_fields = fields.Dict(keys=fields.String(), values=fields.String())
    phone_region = fields.String(validate=validate.Regexp(r"^[A-Z]{2}$", error="must be an ISO 3166 code like US"))
    # Merge by VIN and transformation rules (app.listings.merge / app.listings.rules).
    merge = fields.Raw()
    rules = fields.Raw()

    @validates_schema
    def _merge_and_rules(self, data: dict, **kwargs: Any) -> None:
        from app.listings import merge, rules

        problems = {**(merge.config_problems(data["merge"]) if "merge" in data else {}),
                    **(rules.config_problems(data["rules"]) if "rules" in data else {})}
        if problems:
            raise ValidationError(problems)
    # [sites.dealer]: who the dealer is, for destinations that publish a dealer profile (Carslink).
    dealer = fields.Nested(DealerProfileSchema)


class DestinationOptionsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    rate_reads = fields.Integer(validate=validate.Range(min=1), strict=True)
    rate_writes = fields.Integer(validate=validate.Range(min=1), strict=True)
    rate_window = fields.Float(validate=validate.Range(min=0.1))
    # Feed destinations: seconds changes are gathered before one batch goes (the connector's
    # default otherwise); the first change opens the window, so it is also the longest wait.
    batch_window = fields.Float(validate=validate.Range(min=0.1, max=3600))
    # Whole-stock feeds: the largest share of the listed cars one may remove without a human
    # confirming it (app.sync.feed_status); 0.5 unless set.
    full_replace_max_drop = fields.Float(validate=validate.Range(min=0, max=1))


ENGINE_SITE_OPTIONS = set(SiteOptionsSchema().fields)
ENGINE_DEST_OPTIONS = set(DestinationOptionsSchema().fields)


def _connector_options(marketplace: str | None = None) -> set[str]:
    from app.connectors import available, get_connector_class

    names: set[str] = set()
    for slug in [marketplace] if marketplace else available():
        try:
            names |= set(getattr(get_connector_class(slug), "option_names", ()) or ())
        except KeyError:
            continue
    return names


class FileSchema(Schema):
    class Meta:
        unknown = RAISE

    sites = fields.List(fields.Dict(), required=True)


_SITE_KEYS = set(SiteSchema().fields)
_DEST_KEYS = set(DestinationSchema().fields)


def parse(text: str, environ: Mapping[str, str] | None = None, *, source: str = "config") -> list[dict]:
    """Validate the file's text; return plain site dicts or raise ConfigError naming each bad key."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    errors: dict[str, str] = {}
    try:
        FileSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError(_format(source, flatten_messages(exc.messages, ""))) from None

    sites: list[dict] = []
    seen: set[str] = set()
    for index, site_raw in enumerate(raw["sites"]):
        prefix = f"sites[{index}]"
        site_raw = substitute(site_raw, prefix, environ, errors)
        try:
            site = SiteSchema().load(site_raw)
        except ValidationError as exc:
            _merge(errors, flatten_messages(exc.messages, prefix))
            continue
        if site["id"] in seen:
            errors[f"{prefix}.id"] = f"duplicate site id {site['id']!r}"
        seen.add(site["id"])
        site["wp_webhooks_auth"] = _load_wp_webhooks_auth(site["wp_webhooks_auth"], f"{prefix}.wp_webhooks_auth",
                                                          errors)
        site["feed_pull_auth"] = _load_wp_webhooks_auth(site["feed_pull_auth"], f"{prefix}.feed_pull_auth", errors)
        if site["preset"] == "generic":
            _check_generic_mapping(site["mapping"], f"{prefix}.mapping", errors)
        site["options"] = {k: v for k, v in site_raw.items() if k not in _SITE_KEYS}
        known = ENGINE_SITE_OPTIONS | _connector_options()
        for key in site["options"]:
            if key not in known:
                errors.setdefault(f"{prefix}.{key}", "unknown key")
        try:
            typed = SiteOptionsSchema().load(site["options"])
            if "dealer" in typed:  # normalised (postcode spacing, trimmed text)
                site["options"]["dealer"] = typed["dealer"]
        except ValidationError as exc:
            _merge(errors, flatten_messages(exc.messages, prefix))
        site["car_post_types"] = site["car_post_types"] or _default_post_types(site)
        destinations = []
        markets: set[str] = set()
        for d_index, dest_raw in enumerate(site.pop("destinations")):
            d_prefix = f"{prefix}.destinations[{d_index}]"
            try:
                dest = DestinationSchema().load(dest_raw)
            except ValidationError as exc:
                _merge(errors, flatten_messages(exc.messages, d_prefix))
                continue
            if dest["marketplace"] in markets:
                errors[f"{d_prefix}.marketplace"] = f"{dest['marketplace']!r} appears twice for this site"
            markets.add(dest["marketplace"])
            cred_names = credential_fields(dest["marketplace"])
            dest["credentials"] = {k: dest_raw[k] for k in cred_names if dest_raw.get(k)}
            dest["options"] = {
                k: v for k, v in dest_raw.items() if k not in _DEST_KEYS and k not in cred_names
            }
            known = ENGINE_DEST_OPTIONS | _connector_options(dest["marketplace"])
            for key in dest["options"]:
                if key not in known:
                    errors.setdefault(f"{d_prefix}.{key}", "unknown key")
            try:
                DestinationOptionsSchema().load(dest["options"])
            except ValidationError as exc:
                _merge(errors, flatten_messages(exc.messages, d_prefix))
            merged = {**site["options"], **dest["options"]}
            for option, problem in _option_problems(dest["marketplace"], merged).items():
                where = d_prefix if option in dest["options"] else prefix
                errors.setdefault(f"{where}.{option}", problem)
            destinations.append(dest)
        site["destinations"] = destinations
        sites.append(site)
    if errors:
        raise ConfigError(_format(source, errors))
    return sites


def _option_problems(marketplace: str, options: dict) -> dict[str, str]:
    from app.connectors import get_connector_class

    try:
        cls = get_connector_class(marketplace)
    except KeyError:
        return {}
    known = set(getattr(cls, "option_names", ()) or ())
    return cls.validate_options({k: v for k, v in options.items() if not known or k in known})


def _merge(errors: dict[str, str], new: dict[str, str]) -> None:
    # An unset ${VAR} also fails validation as empty; the substitution message is the useful one.
    for key, message in new.items():
        errors.setdefault(key, message)


def _default_post_types(site: dict) -> list[str]:
    if site["preset"] == "generic":
        return list(site["mapping"].get("post_types") or ["car"])
    return PRESET_POST_TYPES[site["preset"]]


def _check_generic_mapping(mapping: dict, path: str, errors: dict[str, str]) -> None:
    try:
        from app.listings.presets import preset_from_config
    except ImportError:  # the preset module is optional until inbound mapping lands
        return
    try:
        preset_from_config(mapping)
    except ValidationError as exc:
        errors.update(flatten_messages(exc.messages, path))
    except ValueError as exc:
        errors[path] = str(exc)


def _format(source: str, errors: dict[str, str]) -> str:
    lines = [f"{source} is invalid:"] + [f"  {key}: {msg}" for key, msg in sorted(errors.items())]
    return "\n".join(lines)


def load_file(path: Path, environ: Mapping[str, str] | None = None) -> list[dict]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"FORECOURT_CONFIG: cannot read {path}: {exc.strerror}") from None
    return parse(text, environ, source=str(path))


def apply(sites: list[dict]) -> dict[str, int]:
    """Upsert the declared sites and destinations. Undeclared ones are disabled, never deleted,
    so their history and remote ids survive a config mistake."""
    counts = {"sites": 0, "destinations": 0, "disabled": 0}
    declared = {s["id"] for s in sites}
    for spec in sites:
        site = db.session.get(Site, spec["id"]) or Site(id=spec["id"])
        site.name = spec["name"]
        site.wordpress_url = spec["wordpress_url"]
        site.preset = spec["preset"]
        site.car_post_types = spec["car_post_types"]
        site.secrets = {"webhook_secrets": spec["webhook_secret"], "dms_api_keys": spec["dms_api_key"],
                        "wp_webhooks_auth": spec.get("wp_webhooks_auth") or [],
                        "feed_pull_auth": spec.get("feed_pull_auth") or []}
        site.options = {**spec["options"], "mapping": spec["mapping"]}
        site.active = True
        db.session.add(site)
        counts["sites"] += 1
        existing = {d.marketplace: d for d in site.destinations}
        wanted = set()
        for dspec in spec["destinations"]:
            wanted.add(dspec["marketplace"])
            dest = existing.get(dspec["marketplace"])
            if dest is None:
                dest = Destination(marketplace=dspec["marketplace"])
                site.destinations.append(dest)
            if dest.credentials != dspec["credentials"] and dest.paused:
                # New credentials are the usual fix for a 401 pause; let the next sync try them.
                dest.paused, dest.paused_reason = False, None
            dest.base_url = dspec["base_url"].rstrip("/")
            dest.credentials = dspec["credentials"]
            dest.options = dspec["options"]
            dest.enabled = dspec["enabled"]
            counts["destinations"] += 1
        for marketplace, dest in existing.items():
            if marketplace not in wanted and dest.enabled:
                dest.enabled = False
                counts["disabled"] += 1
    for site in db.session.scalars(select(Site).where(Site.id.not_in(declared), Site.active)):
        site.active = False
        counts["disabled"] += 1
    db.session.commit()
    return counts
