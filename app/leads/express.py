"""Express links on request (admin API, the plugin's signed helper), without a stored lead:
the first lead destination of the site that builds landing links (Roadster) builds it."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from app.connectors.errors import ConnectorError
from app.connectors.kinds import LeadSink
from app.leads.schemas import ExpressLinkSchema
from app.leads.service import find_car, lead_destinations
from app.sites.models import Site
from app.sync import destinations as dest_service


def link_for(site: Site, data: Any) -> dict[str, Any]:
    """``{"url", "vin", "marketplace"}``; ``ValidationError`` (422) when no link can be built."""
    loaded = ExpressLinkSchema(phone_region=(site.options or {}).get("phone_region")).load(data)
    vin = loaded.get("vin")
    if not vin:
        car = find_car(site.id, loaded.get("car") or {})
        vin = (car.vehicle or {}).get("vin") if car is not None else None
    if not vin:
        raise ValidationError({"vin": ["Give the car's VIN, or a car Forecourt knows that has one."]})
    document = {"id": loaded.get("custid"), "first_name": loaded.get("first_name"),
                "last_name": loaded.get("last_name"), "email": loaded["email"], "phone": loaded.get("phone"),
                "vehicle": {"vin": vin}}
    for dest in lead_destinations(site):
        try:
            connector: LeadSink = dest_service.build_connector(dest)
        except ConnectorError:
            continue
        url = connector.landing_link(document)
        if url:
            return {"url": url, "vin": vin, "marketplace": dest.marketplace}
    raise ValidationError({"destination": [
        "No lead destination of this site builds Express links (Roadster needs storefront_url and encryption_key)."
    ]})
