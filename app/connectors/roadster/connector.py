"""Roadster partner API connector (seed 003): one shopper's enquiry becomes one customer.

* ``POST {base_url}/v1/customers`` with ``customer`` (``partner_id`` = Forecourt's lead id),
  ``vehicle`` (``vin``, ``make``, ``model``, ``year`` as a string: the docs type every field as
  a string) and ``dealer`` (``partner_id`` or ``dpid``, from the destination's options; left out
  when neither is set, so the key's own dealer is used).
* Auth: the docs show both ``Authorization: <key>`` and ``Authorization: Token <key>``; the
  ``auth_scheme`` option picks (``raw``, the default, as in the Authentication section, or
  ``token``, as in the curl sample).
* Answers: ``{"status": "ok", "customer": {"id", "redirect_url"}, "duplicate": true?}``;
  ``duplicate`` is read at the top level and inside ``customer`` (the docs name the flag but
  not its place). Errors are ``{"status": "error", "error": "Missing email"}``: a 400 becomes
  ``FixInput`` with the named field (``email``), 5xx / 408 / timeouts ``RetryLater``, 429
  ``RetryAt``, 401 / 403 ``Reauthenticate``.
* Roadster keys customers by email per dealer, so a retried POST of the same lead finds the
  customer it may already have made (``duplicate: true``) instead of making a second one.

Options: ``auth_scheme``, ``dealer_partner_id``, ``dealer_dpid``, ``storefront_url`` (the
dealer's Express Storefront base, for Express links). Credentials: ``api_key`` and
``encryption_key`` (the Base64 cipher key for Express links), both encrypted at rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import requests

from app.connectors import http
from app.connectors.auth import StaticKey
from app.connectors.base import RateLimits
from app.connectors.errors import ConnectorError, FixInput, RetryLater
from app.connectors.kinds import LeadResult, LeadSink
from app.connectors.registry import register
from app.connectors.roadster.express import cipher_key, express_url

AUTH_SCHEMES = {"raw": StaticKey("api_key", scheme=None), "token": StaticKey("api_key", scheme="Token")}
# "Missing email", "Invalid dealer.dpid: must be a string" → the field the message names.
_FIELD_MESSAGE = re.compile(r"^(?:missing|invalid|unknown)\s+([A-Za-z_][\w.]*)", re.IGNORECASE)


@register
class RoadsterConnector(LeadSink):
    """Roadster's ``/v1/customers`` and Express links. See the module doc."""

    slug = "roadster"
    display_name = "Roadster"
    default_base_url = "https://api.roadster.com"
    credential_fields = ("api_key", "encryption_key")
    auth = AUTH_SCHEMES["raw"]
    # Roadster publishes no limits; one lead per shopper is far below any plausible one.
    rate_limits = RateLimits(reads=120, writes=120, window=60.0)
    option_names = ("auth_scheme", "dealer_partner_id", "dealer_dpid", "storefront_url")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.auth = AUTH_SCHEMES[str(self.options.get("auth_scheme") or "raw")]

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        scheme = options.get("auth_scheme")
        if scheme is not None and scheme not in AUTH_SCHEMES:
            problems["auth_scheme"] = f"must be one of: {', '.join(AUTH_SCHEMES)}"
        for name in ("dealer_partner_id", "dealer_dpid"):
            value = options.get(name)
            if value is not None and not (isinstance(value, str) and value.strip()):
                problems[name] = "must be a non-empty string (Roadster types dealer ids as strings)"
        url = options.get("storefront_url")
        if url is not None and not (isinstance(url, str) and re.match(r"^https?://[^/?#\s]+", url)):
            problems["storefront_url"] = "must be an http(s) URL, e.g. https://brickellmazda.roadster.com"
        return problems

    # ---- the API --------------------------------------------------------------------------

    def build_body(self, lead: Mapping[str, Any]) -> dict[str, Any]:
        """``lead``: ``id``, ``first_name``, ``last_name``, ``email``, ``phone`` and a
        ``vehicle`` mapping (``vin``, ``make``, ``model``, ``year``)."""
        customer = {name: str(lead[name]) for name in ("first_name", "last_name", "email", "phone") if lead.get(name)}
        customer["partner_id"] = str(lead["id"])
        vehicle = {
            name: str(value).strip()
            for name, value in (lead.get("vehicle") or {}).items()
            if name in ("vin", "make", "model", "year") and value not in (None, "")
        }
        body: dict[str, Any] = {"customer": customer}
        if vehicle:
            body["vehicle"] = vehicle
        if self.options.get("dealer_dpid"):
            body["dealer"] = {"dpid": str(self.options["dealer_dpid"])}
        elif self.options.get("dealer_partner_id"):
            body["dealer"] = {"partner_id": str(self.options["dealer_partner_id"])}
        return body

    def deliver(self, lead: Mapping[str, Any]) -> LeadResult:
        with self.operation():
            response = self.request(
                "write", "POST", "/v1/customers", operation="create_customer", json_body=self.build_body(lead)
            )
            answer = http.json_or_none(response)
            customer = answer.get("customer") if isinstance(answer, Mapping) else None
            if not isinstance(customer, Mapping) or customer.get("id") in (None, ""):
                raise RetryLater("Roadster answered without a customer id", status=response.status_code)
        duplicate = bool(answer.get("duplicate") or customer.get("duplicate"))
        redirect = customer.get("redirect_url")
        return LeadResult(
            remote_id=str(customer["id"]),
            landing_url=redirect if isinstance(redirect, str) and redirect else None,
            duplicate=duplicate,
            calls=list(self.calls),
        )

    def check_credentials(self) -> dict[str, Any]:
        """Roadster has no read endpoint to try a key on; the key and cipher key are checked
        for shape only (a real lead is the first live check)."""
        self.cipher()
        return {"name": "credentials present (Roadster has no endpoint to check them)"}

    def classify(self, response: requests.Response) -> None:
        body = http.json_or_none(response)
        text = body.get("error") if isinstance(body, Mapping) and isinstance(body.get("error"), str) else None
        status = response.status_code
        if status in (400, 422):
            match = _FIELD_MESSAGE.match(text or "")
            field = match.group(1) if match else "lead"
            raise FixInput(f"Roadster rejected the lead: {text or f'HTTP {status}'}",
                           fields={field: text or f"HTTP {status}"}, status=status)
        try:
            http.classify(response, self.name, self.rate_limits.window)
        except ConnectorError as exc:
            if text:
                exc.message = f"{exc.message} ({text})"
                exc.args = (exc.message,)
            raise

    # ---- Express links --------------------------------------------------------------------

    def cipher(self) -> bytes:
        try:
            return cipher_key(self.credentials["encryption_key"])
        except ValueError as exc:
            raise FixInput(f"Roadster: {exc}", fields={"encryption_key": str(exc)}) from None

    def express_link(self, vin: str, customer: Mapping[str, Any]) -> str:
        """The shopper's Express link (``MEM_FIELDS`` from ``customer``); FixInput when the
        destination has no ``storefront_url`` or a bad key, or there is no VIN or email."""
        self.cipher()
        storefront = self.options.get("storefront_url")
        problems = {}
        if not storefront:
            problems["storefront_url"] = "required for Express links"
        if not vin:
            problems["vin"] = "an Express link needs the car's VIN"
        if not customer.get("email"):
            problems["email"] = "an Express link needs the shopper's email"
        if problems:
            raise FixInput("Roadster: cannot build an Express link", fields=problems)
        return express_url(str(storefront), vin, customer, self.credentials["encryption_key"])

    def landing_link(self, lead: Mapping[str, Any]) -> str | None:
        """The Express link for a lead (the same document ``deliver`` takes); None when the
        destination or the lead lacks what a link needs (storefront, key, VIN)."""
        customer = {"fname": lead.get("first_name"), "lname": lead.get("last_name"), "email": lead.get("email"),
                    "phone": lead.get("phone"), "custid": str(lead["id"]) if lead.get("id") is not None else None}
        try:
            return self.express_link(str((lead.get("vehicle") or {}).get("vin") or ""), customer)
        except FixInput:
            return None
