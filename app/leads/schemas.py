"""Validation of a canonical lead: Roadster needs a first name, a last name and a valid email;
phones are normalised to E.164 with ``phonenumbers`` (numbers without a country code are read in
the site's ``phone_region``)."""

from __future__ import annotations

from typing import Any

import phonenumbers
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

DEFAULT_PHONE_REGION = "US"  # Roadster's dealers are in the US


class Phone(fields.String):
    def __init__(self, region: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.region = region

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException:
            raise ValidationError("Not a phone number.") from None
        if not phonenumbers.is_valid_number(number):
            raise ValidationError(f"Not a valid phone number (without a country code it is read as {self.region}).")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class CarSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    post_id = fields.Raw(load_default=None)
    vin = fields.String(load_default=None, validate=validate.Length(max=32))
    stock_number = fields.String(load_default=None, validate=validate.Length(max=100))


class _Shopper(Schema):
    """Shared by both schemas: blank values count as missing, and ``phone`` is read in the
    site's region."""

    class Meta:
        unknown = EXCLUDE

    phone = fields.String(load_default=None)  # replaced per site in __init__

    def __init__(self, *, phone_region: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        phone = Phone(phone_region or DEFAULT_PHONE_REGION, load_default=None)
        phone._bind_to_schema("phone", self)
        self.fields["phone"] = self.load_fields["phone"] = phone

    @pre_load
    def _strip(self, data: Any, **kwargs: Any) -> Any:
        """Empty or blank values count as missing; numbers sent for text fields become text."""
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "car":
                value = str(value)
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            out[key] = value
        return out


class LeadSchema(_Shopper):
    submission_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(required=True, validate=validate.Length(max=200))
    message = fields.String(load_default=None, validate=validate.Length(max=5000))
    car = fields.Nested(CarSchema, load_default=dict)
    source_url = fields.String(load_default=None, validate=validate.Length(max=2048))


class ExpressLinkSchema(_Shopper):
    """A request for an Express link without a stored lead (admin API, the plugin's helper):
    the car (``vin``, or ``car`` to look it up) and the shopper's details."""

    vin = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    car = fields.Nested(CarSchema, load_default=dict)
    first_name = fields.String(load_default=None, validate=validate.Length(max=100))
    last_name = fields.String(load_default=None, validate=validate.Length(max=100))
    email = fields.Email(required=True, validate=validate.Length(max=200))
    custid = fields.String(load_default=None, validate=validate.Length(max=100))
