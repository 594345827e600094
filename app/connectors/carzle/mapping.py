"""Carzle's mapping: a canonical car to Carzle's listing payload, and its externalRef.

Rules from the FAQ: one externalRef scheme per site; absent fields omitted (never ``""`` or
``null``); enums validated against the catalogue and free text mapped onto them; unmappable
optional values omitted with a warning; what Carzle would refuse the whole listing for is a
``FixInput`` before any write.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from app.connectors.carzle.catalogue import (
    FIELD_LABELS,
    MAKE_ALIASES,
    CarzleMetadata,
    compact,
    map_enum,
    schema_problem,
)
from app.connectors.errors import FixInput
from app.connectors.features import normalize, structure_features
from app.listings.vehicle import LISTING_STATUSES, Vehicle

REF_SCHEMES: dict[str, str] = {"stock_number": "sku", "post_id": "post", "vin": "vin", "source_id": "src"}
DEFAULT_REF_PREFIX = "fc_"
MAX_REF_LENGTH = 255
REQUIRED_ON_CREATE: tuple[str, ...] = ("make", "model", "year", "kilometers", "price", "title")
# Carzle documents no image count limit; 40 covers a full walk-around with interior shots and
# bounds how many fetches one listing makes Carzle do (a single failing image fails the POST).
DEFAULT_MAX_IMAGES = 40
DEFAULT_CURRENCY = "AED"


def clean_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def as_int(value: Any, name: str, problems: dict[str, str]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        problems[name] = "must be a whole number"
        return None
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        problems[name] = f"must be a whole number, got {value!r}"
        return None
    if not math.isfinite(number):
        problems[name] = f"must be a whole number, got {value!r}"
        return None
    return round(number)


def _private_host(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


class CarzleMapping:
    """The mapping half of :class:`~app.connectors.carzle.connector.CarzleConnector`.

    It reads the destination's ``options`` and the showroom's reference data (``metadata()``
    and ``contacts()``, fetched by the connector)."""

    options: dict[str, Any]

    def metadata(self) -> CarzleMetadata:
        raise NotImplementedError

    def contacts(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    # ---- configuration ---------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        scheme = options.get("ref_scheme", "stock_number")
        if scheme not in REF_SCHEMES:
            problems["ref_scheme"] = f"must be one of {', '.join(REF_SCHEMES)}"
        if not isinstance(options.get("ref_prefix", DEFAULT_REF_PREFIX), str):
            problems["ref_prefix"] = "must be a string"
        max_images = options.get("max_images", DEFAULT_MAX_IMAGES)
        if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1:
            problems["max_images"] = "must be a positive whole number"
        contacts = options.get("contacts", {})
        if not isinstance(contacts, Mapping):
            problems["contacts"] = "must map salesperson identifiers to contact ids or names"
        for name in ("default_contact", "regional_specs", "currency"):
            if options.get(name) is not None and not isinstance(options[name], str):
                problems[name] = "must be a string"
        return problems

    @property
    def ref_scheme(self) -> str:
        return str(self.options.get("ref_scheme") or "stock_number")

    # ---- external reference ----------------------------------------------------------------

    def external_ref(self, vehicle: Vehicle) -> str:
        """The site's one externalRef scheme applied to ``vehicle`` (FixInput if it can't be)."""
        scheme = self.ref_scheme
        if scheme == "stock_number":
            value = clean_text(vehicle.stock_number)
            missing = "stock_number"
        elif scheme == "post_id":
            # For WordPress cars car_ref *is* the post ID, so it is the same scheme.
            value = clean_text(vehicle.post_id) or (
                clean_text(vehicle.car_ref) if vehicle.source == "wordpress" else None
            )
            missing = "post_id"
        elif scheme == "source_id":
            # A DMS's own vehicle id (Carslink source_id, Auterio VIN): stable across feeds.
            value = clean_text(vehicle.car_ref) if vehicle.source == "dms" else None
            missing = "source_id"
        else:
            value = clean_text(vehicle.vin)
            value = value.upper() if value else None
            missing = "vin"
        if value is None:
            raise FixInput(
                f"This site identifies Carzle listings by {scheme.replace('_', ' ')}, "
                f"and this car has none",
                fields={missing: f"required: the site's Carzle reference scheme is {scheme}"},
            )
        prefix = self.options.get("ref_prefix", DEFAULT_REF_PREFIX)
        ref = f"{prefix}{REF_SCHEMES[scheme]}_{value}"
        if len(ref) > MAX_REF_LENGTH:
            raise FixInput(
                f"Carzle externalRef would be {len(ref)} characters; the limit is {MAX_REF_LENGTH}",
                fields={missing: f"too long for a Carzle reference ({len(ref)} > {MAX_REF_LENGTH})"},
            )
        return ref

    @staticmethod
    def ref_path(ref: str) -> str:
        return "/listings/by-ref/" + quote(ref, safe="")

    # ---- mapping ---------------------------------------------------------------------------

    def build_payload(self, vehicle: Vehicle, *, creating: bool) -> tuple[dict[str, Any], list[str]]:
        """Full Carzle payload for ``vehicle`` (absent fields omitted) and mapping warnings.

        Raises FixInput, before any write, for what Carzle would refuse the whole listing for
        (unknown make/model, out-of-range price, ...); ``creating`` adds the required-field
        check. Optional values Carzle can't take are omitted with a warning instead.
        """
        warnings: list[str] = []
        problems: dict[str, str] = {}
        payload: dict[str, Any] = {"externalRef": self.external_ref(vehicle)}
        meta = self.metadata()

        status = vehicle.status
        allowed_status = meta.allowed("status")
        if status not in LISTING_STATUSES or (allowed_status and status not in allowed_status):
            problems["status"] = f"{status!r} is not a status Forecourt sends to Carzle"
        else:
            payload["status"] = status

        make, model = clean_text(vehicle.make), clean_text(vehicle.model)
        if make:
            make, model = self._catalog_names(meta, make, model, problems)
            payload["make"] = make
        if model:
            payload["model"] = model
        for key, value in (
            ("year", vehicle.year),
            ("price", vehicle.price),
            ("kilometers", vehicle.kilometers),
        ):
            number = as_int(value, key, problems)
            if number is not None:
                payload[key] = number
        for key, value in (
            ("title", vehicle.title),
            ("description", vehicle.description),
            ("trim", vehicle.trim),
            ("exteriorColor", vehicle.exterior_color),
            ("interiorColor", vehicle.interior_color),
        ):
            text = clean_text(value)
            if text:
                payload[key] = text
        vin = clean_text(vehicle.vin)
        if vin:
            payload["chassisNumber"] = re.sub(r"\s+", "", vin).upper()

        currency = clean_text(vehicle.currency)
        expected_currency = str(self.options.get("currency") or DEFAULT_CURRENCY)
        if currency and currency.upper() != expected_currency.upper() and "price" in payload:
            problems["currency"] = (
                f"Carzle prices are in {expected_currency}; this car is priced in {currency}"
            )

        # Spec fields: dealer-sent values win over Carzle's enrichment, so only real data goes.
        optional_problems: dict[str, str] = {}
        hp = as_int(vehicle.horsepower, "horsepower", optional_problems)
        if hp:
            payload["horsepower"] = f"{hp} HP"
        cc = as_int(vehicle.engine_cc, "engineCapacity", optional_problems)
        if cc:
            payload["engineCapacity"] = f"{cc / 1000:.1f}L"
        for key, value in (("doors", vehicle.doors), ("seating", vehicle.seats)):
            number = as_int(value, key, optional_problems)
            if number:
                payload[key] = number
        warnings.extend(f"{key} {msg}; omitted" for key, msg in optional_problems.items())

        for key, raw in (
            ("transmission", vehicle.transmission),
            ("fuelType", vehicle.fuel_type),
            ("bodyType", vehicle.body_type),
            ("regionalSpecs", self.options.get("regional_specs")),
        ):
            text = clean_text(raw)
            if not text:
                continue
            mapped = map_enum(key, text, meta.allowed(key), meta.aliases.get(key))
            if mapped is None:
                warnings.append(f"{FIELD_LABELS[key]} {text!r} is not a Carzle value; omitted")
            else:
                payload[key] = mapped

        features = self._features(vehicle, meta, warnings)
        if features:
            payload["features"] = features

        images, image_warnings = self._image_urls(vehicle, meta)
        warnings.extend(image_warnings)
        if images:
            payload["imageUrls"] = images

        contact_id, contact_warnings = self._contact_id(vehicle)
        warnings.extend(contact_warnings)
        if contact_id:
            payload["contactId"] = contact_id

        self._apply_schema(payload, meta, problems, warnings)
        if creating:
            problems.update(self.missing_for_create(payload, problems))
        if problems:
            raise FixInput(
                "The car can't be listed on Carzle until these fields are fixed: "
                + ", ".join(sorted(problems)),
                fields=problems,
            )
        return payload, warnings

    @staticmethod
    def missing_for_create(
        payload: Mapping[str, Any], known: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Required-on-create fields absent from ``payload`` (field -> message)."""
        return {
            key: "required by Carzle to create a listing"
            for key in REQUIRED_ON_CREATE
            if key not in payload and key not in (known or {})
        }

    @staticmethod
    def _catalog_names(
        meta: CarzleMetadata, make: str, model: str | None, problems: dict[str, str]
    ) -> tuple[str, str | None]:
        # The FAQ hands out the makes/models catalog "so you can validate on your side before
        # POST-ing"; Carzle's own spelling also makes its enrichment lookup hit.
        if not meta.makes:
            return make, model
        key = compact(make)
        entry = meta.makes.get(key)
        if entry is None and key in MAKE_ALIASES:
            entry = meta.makes.get(compact(MAKE_ALIASES[key]))
        if entry is None:
            problems["make"] = f"{make!r} is not a make in Carzle's catalog"
            return make, model
        canonical_make, models = entry
        if model and models:
            canonical_model = models.get(compact(model))
            if canonical_model is None:
                problems["model"] = f"{model!r} is not a {canonical_make} model in Carzle's catalog"
            else:
                model = canonical_model
        return canonical_make, model

    @staticmethod
    def _features(
        vehicle: Vehicle, meta: CarzleMetadata, warnings: list[str]
    ) -> list[dict[str, str]]:
        features = structure_features(vehicle.features or [], meta.features)
        allowed = meta.allowed("featureCategories")
        by_norm = {normalize(c): c for c in allowed} if allowed else None
        schema = meta.fields.get("features", {})
        name_max = 100  # Carzle's feature-name limit; not in the metadata
        kept: list[dict[str, str]] = []
        for feature in features:
            category = by_norm.get(normalize(feature["category"])) if by_norm else feature["category"]
            if category is None:
                warnings.append(
                    f"feature {feature['name']!r}: category {feature['category']!r} "
                    "is not a Carzle category; omitted"
                )
            elif len(feature["name"]) > name_max:
                warnings.append(f"feature {feature['name'][:40]!r}...: name too long; omitted")
            else:
                kept.append({"name": feature["name"], "category": category})
        cap = meta.limit("featuresMax") or schema.get("maxItems")
        if isinstance(cap, int) and len(kept) > cap:
            warnings.append(f"{len(kept)} features; only the first {cap} are sent to Carzle")
            kept = kept[:cap]
        return kept

    def _apply_schema(
        self,
        payload: dict[str, Any],
        meta: CarzleMetadata,
        problems: dict[str, str],
        warnings: list[str],
    ) -> None:
        """Check the payload against the field schema in ``GET /metadata``.

        Carzle rejects the whole listing for one bad value. A bad required field is a FixInput;
        an optional one is omitted with a warning so the rest of the car still syncs.
        """
        if not meta.fields:
            return
        for key in list(payload):
            schema = meta.fields.get(key)
            value = payload[key]
            if schema is None:
                problem = "is not a Carzle field"
            else:
                problem = schema_problem(value, schema)
            if problem is None:
                continue
            if key in REQUIRED_ON_CREATE or key in ("externalRef", "status"):
                problems.setdefault(key, problem)
            else:
                warnings.append(f"{key} {value!r} {problem}; omitted")
                del payload[key]

    def _image_urls(
        self, vehicle: Vehicle, meta: CarzleMetadata
    ) -> tuple[list[dict[str, Any]], list[str]]:
        limit = int(self.options.get("max_images", DEFAULT_MAX_IMAGES))
        remote_cap = meta.limit("imageUrlsMax")
        if remote_cap:
            limit = min(limit, remote_cap)
        warnings: list[str] = []
        urls: list[str] = []
        seen: set[str] = set()
        for image in vehicle.images or []:
            url = clean_text(image.get("url") if isinstance(image, Mapping) else image.url)
            if not url or url in seen:
                continue
            seen.add(url)
            parts = urlsplit(url)
            # Carzle rejects the whole listing when one image fails, so a URL it will refuse
            # is dropped here with a warning instead of blocking the car. The sandbox can be
            # told to fetch from local http hosts; ``allow_insecure_images`` matches it.
            if self.options.get("allow_insecure_images") and parts.scheme.lower() in ("http", "https"):
                urls.append(url)
                continue
            if parts.scheme.lower() != "https" or not parts.hostname:
                warnings.append(f"image {url!r} is not an HTTPS URL; omitted")
                continue
            if _private_host(parts.hostname):
                warnings.append(f"image {url!r} is on a private host Carzle can't fetch; omitted")
                continue
            urls.append(url)
        if len(urls) > limit:
            warnings.append(f"{len(urls)} images; only the first {limit} are sent to Carzle")
            urls = urls[:limit]
        return [
            {"url": url, "isHero": True} if index == 0 else {"url": url}
            for index, url in enumerate(urls)
        ], warnings

    def _contact_id(self, vehicle: Vehicle) -> tuple[str | None, list[str]]:
        """Resolve the salesperson to a Carzle contact id; None means the showroom default."""
        mapping = {
            str(k).strip().casefold(): v for k, v in (self.options.get("contacts") or {}).items()
        }
        salesperson = clean_text(vehicle.salesperson)
        default = clean_text(self.options.get("default_contact"))
        if not salesperson and not default:
            return None, []
        warnings: list[str] = []
        if salesperson:
            target = mapping.get(salesperson.casefold())
            contact = self._find_contact(str(target)) if target else self._find_contact(salesperson)
            if contact:
                return contact, warnings
            if target:
                warnings.append(
                    f"salesperson {salesperson!r} maps to {target!r}, which is not a contact "
                    "on this Carzle showroom"
                )
            else:
                warnings.append(f"salesperson {salesperson!r} has no Carzle contact")
        if default:
            contact = self._find_contact(default)
            if contact:
                return contact, warnings
            warnings.append(f"default contact {default!r} is not a contact on this Carzle showroom")
        return None, warnings

    def _find_contact(self, wanted: str) -> str | None:
        wanted_norm = wanted.strip().casefold()
        contacts = self.contacts()
        for contact in contacts:
            if str(contact["id"]).casefold() == wanted_norm:
                return str(contact["id"])
        for key in ("email", "name"):
            for contact in contacts:
                value = contact.get(key)
                if isinstance(value, str) and value.strip().casefold() == wanted_norm:
                    return str(contact["id"])
        return None
