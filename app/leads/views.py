"""Lead endpoints: the signed intake hook, the plugin's signed Express-link helper, and the
admin API (Express links, erase by email). Thin: verify → load → service → answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import EXCLUDE, Schema, fields, pre_load

from app.auth import keys
from app.errors import NotFound, Unauthorized
from app.extensions import db
from app.leads import express, privacy, service
from app.sites.cache import get_site
from app.sites.models import Site
from app.webhooks.body import parse_json
from app.webhooks.signatures import SignatureError, verify_wordpress_request

bp = Blueprint("leads", __name__)


def _site(site_id: str) -> Site:
    site = db.session.get(Site, site_id) if get_site(site_id) is not None else None
    if site is None:
        raise NotFound(f"No site {site_id!r} is configured.")
    return site


def _verified(site: Site, body: bytes) -> str:
    """The site's WordPress signature (companion plugin, WooCommerce, or a WP Webhooks
    authentication template); returns the delivery id, the fallback submission id."""
    view = get_site(site.id)
    headers = {key.lower(): value for key, value in request.headers.items()}
    try:
        verified = verify_wordpress_request(
            headers, body, view.webhook_secrets, tolerance=current_app.config["FORECOURT"].webhook_tolerance_seconds,
            auth_templates=view.wp_webhooks_auth,
        )
    except SignatureError as exc:
        raise Unauthorized(exc.message, code=exc.code) from None
    return verified.delivery_id


@bp.post("/hooks/leads/<site_id>")
def intake(site_id: str):
    site = _site(site_id)
    body = request.get_data(cache=False)
    delivery_id = _verified(site, body)
    data, _ = parse_json(body)
    loaded = service.load(site, data, fallback_id=delivery_id)
    answer = service.receive(site, loaded, form=str((site.options or {}).get("lead_form") or "forecourt"),
                             request_id=g.get("request_id"))
    return jsonify(answer.body), answer.status_code


@bp.post("/hooks/leads/<site_id>/express-link")
def plugin_express_link(site_id: str):
    """For the WordPress plugin: signed with the site's secret like its other calls."""
    site = _site(site_id)
    body = request.get_data(cache=False)
    _verified(site, body)
    data, _ = parse_json(body)
    return jsonify(express.link_for(site, data)), 200


@bp.post("/api/v1/sites/<site_id>/express-links")
def admin_express_link(site_id: str):
    keys.require(request, "leads:write", site_id)
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound(f"No site {site_id!r}.")
    data, _ = parse_json(request.get_data(cache=False))
    return jsonify(express.link_for(site, data)), 200


class EraseSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True)
    siteId = fields.String(load_default=None)  # noqa: N815 (the API's JSON spelling)

    @pre_load
    def _strip(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            return {**data, "email": data["email"].strip()}
        return data


@bp.post("/api/v1/leads/erase")
def erase():
    """Erase every lead of one email address (at one site with ``siteId``, else everywhere)."""
    data, _ = parse_json(request.get_data(cache=False))
    loaded = EraseSchema().load(data if isinstance(data, dict) else {})
    keys.require(request, "leads:write", loaded["siteId"], all_sites=loaded["siteId"] is None)
    return jsonify(erased=privacy.erase_email(loaded["email"], loaded["siteId"])), 200
