"""A site's dealer profile (``[sites.dealer]`` in the sites file): who the dealer is, for
destinations that publish a dealer page (Carslink builds one from the feed's ``dealer``
object). Validated when the sites file loads, so a bad postcode names its key at start-up
instead of surfacing as a warning in a marketplace response days later."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

# Outward code (area letters + district) and inward code; the space is optional when typed.
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
_UK_PHONE = re.compile(r"^(?:\+44|0)[0-9]{9,10}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

PROFILE_FIELDS = (
    "partner_dealer_id", "name", "address_line_1", "address_line_2", "town", "county",
    "postcode", "phone", "email", "website",
)


def uk_postcode(value: str) -> str | None:
    """``m12ab`` -> ``M1 2AB``; None when it is not a UK postcode."""
    match = _POSTCODE.match(re.sub(r"\s+", "", value).upper())
    return f"{match.group(1)} {match.group(2)}" if match else None


def _postcode(value: str) -> None:
    if uk_postcode(value) is None:
        raise ValidationError("must be a UK postcode like M1 2AB")


def _phone(value: str) -> None:
    if not _UK_PHONE.match(re.sub(r"[\s()\-]", "", value)):
        raise ValidationError("must be a UK phone number like 0161 555 0100")


def _https(value: str) -> None:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValidationError("must be an https:// URL")


class DealerProfileSchema(Schema):
    """Every key optional here; a destination that needs one (Carslink: ``partner_dealer_id``)
    says so in its own option check, so a site without such a destination needs no profile."""

    class Meta:
        unknown = RAISE  # a typo ("post_code") must fail, not silently drop the postcode

    partner_dealer_id = fields.String(validate=validate.Length(min=1, max=255))
    name = fields.String(validate=validate.Length(min=1, max=300))
    address_line_1 = fields.String(validate=validate.Length(min=1, max=300))
    address_line_2 = fields.String(validate=validate.Length(min=1, max=300))
    town = fields.String(validate=validate.Length(min=1, max=200))
    county = fields.String(validate=validate.Length(min=1, max=200))
    postcode = fields.String(validate=_postcode)
    phone = fields.String(validate=_phone)
    email = fields.String(validate=validate.Regexp(_EMAIL, error="must be an email address"))
    website = fields.String(validate=_https)
    # Carslink resolves these from the postcode and overrides anything sent.
    location = fields.Raw(load_only=True, validate=lambda _: _never("location"))
    region = fields.Raw(load_only=True, validate=lambda _: _never("region"))

    @post_load
    def _normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        if data.get("postcode"):
            data["postcode"] = uk_postcode(data["postcode"])
        return data


def _never(name: str) -> bool:
    raise ValidationError(f"is resolved from the postcode by the marketplace; remove {name}")


def dealer_object(profile: dict[str, Any] | None) -> dict[str, Any]:
    """The profile as a feed's ``dealer`` object: known keys only, empty ones left out."""
    return {k: profile[k] for k in PROFILE_FIELDS if profile and profile.get(k)}
