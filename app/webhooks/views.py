"""Inbound hooks: verify the signature on the raw body, load, queue, answer 202."""

from __future__ import annotations

import hmac
import json
import time
import uuid
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import ValidationError
from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ApiError, NotFound, Unauthorized
from app.extensions import db
from app.listings.formats import (
    detect_dms_format,
    is_ignorable,
    load_auterio,
    load_carslink_feed,
    load_wordpress_event,
)
from app.listings.inbound_events import InboundEvent
from app.sites.cache import SiteView, get_site
from app.timeutil import isoformat, utcnow
from app.webhooks import auterio, inbound
from app.webhooks.body import parse_json
from app.webhooks.signatures import (
    SignatureError,
    is_woocommerce_ping,
    verify_standard_webhook,
    verify_wordpress_request,
)

bp = Blueprint("webhooks", __name__, url_prefix="/hooks")


def _site(site_id: str) -> SiteView:
    site = get_site(site_id)
    if site is None:
        raise NotFound(f"No site {site_id!r} is configured.")
    return site


def _json_body(body: bytes) -> tuple[Any, str]:
    return parse_json(body)


def _unauthorized(exc: SignatureError) -> Unauthorized:
    return Unauthorized(exc.message, code=exc.code)


@bp.post("/wordpress/<site_id>")
def wordpress(site_id: str):
    site = _site(site_id)
    body = request.get_data(cache=False)
    headers = {key.lower(): value for key, value in request.headers.items()}
    if is_woocommerce_ping(headers, body):
        # WooCommerce pings on webhook creation and expects a plain 200.
        return jsonify(status="ok"), 200
    settings = current_app.config["FORECOURT"]
    try:
        verified = verify_wordpress_request(
            headers, body, site.webhook_secrets, tolerance=settings.webhook_tolerance_seconds,
            auth_templates=site.wp_webhooks_auth,
        )
    except SignatureError as exc:
        raise _unauthorized(exc) from None
    # WooCommerce's delivery id is not signed and WP Webhooks sends none, so for them a
    # replay is recognised by its body (same post, same modified time: harmless to drop).
    hint = request.args.get("event") or request.args.get("trigger")
    # The URL is not signed, so the trigger is part of what makes a digest-keyed delivery unique.
    dedupe_id = (verified.delivery_id if verified.family == "standard"
                 else f"{verified.body_sha256}:{hint or ''}")
    data, _ = _json_body(body)
    if verified.family == "standard" and _is_ping(data):
        # The companion plugin's "Test connection": the signature is what is being tested, so
        # only a verified Standard Webhooks ping is answered; nothing is queued or recorded.
        return jsonify(status="pong", siteId=site.id, deliveryId=verified.delivery_id), 200
    event = load_wordpress_event(data, event_hint=hint)
    ignored = is_ignorable(event, site.car_post_types)
    if ignored:
        _record_ignored(site.id, verified.delivery_id, verified.family, event.event, event.post_id, ignored)
        return jsonify(status="ignored", reason=ignored), 202
    doc = {
        "channel": "wordpress",
        "post": event.to_doc(),  # validated once, here; the job maps it without parsing again
        "event": event.event,
        "family": verified.family,
        "delivery_id": verified.delivery_id,
        "request_id": g.get("request_id"),
        "modified_at": event.modified_gmt.timestamp() if event.modified_gmt else None,
        "received_at": time.time(),
    }
    outcome = inbound.submit(site.id, event.post_id, doc, delivery_id=dedupe_id,
                             dedupe_ttl=(max(inbound.SEEN_TTL, 2 * settings.webhook_tolerance_seconds)
                                         if verified.family == "standard" else inbound.DIGEST_SEEN_TTL))
    status = 200 if outcome == "duplicate" else 202
    # The hot path's answer is three fixed keys: json.dumps directly skips jsonify's provider.
    body = json.dumps({"status": outcome, "carRef": event.post_id, "deliveryId": verified.delivery_id})
    return current_app.response_class(body, status=status, mimetype="application/json")


def _is_ping(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("event"), str)
            and data["event"].strip().lower() == "ping")


def _record_ignored(site_id: str, delivery_id: str, family: str, event: str, car_ref: str, reason: str) -> None:
    from app.listings.service import delivery_key

    try:
        db.session.add(InboundEvent(site_id=site_id, delivery_id=delivery_key(delivery_id), channel="wordpress",
                                    family=family, event=event, car_ref=car_ref[:255], outcome="ignored",
                                    reason=reason[:300]))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()  # a replayed ignorable delivery, or an audit row that cannot be written


def _authenticate_dms(site: SiteView, body: bytes) -> str:
    """A DMS authenticates with the site's DMS key (Bearer or X-Dealer-Api-Key) or signs
    like the companion plugin (Standard Webhooks). Returns a delivery id."""
    header = request.headers.get("X-Dealer-Api-Key") or ""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    presented = header or (token.strip() if scheme.lower() == "bearer" else "")
    if presented:
        matched = False
        for key in site.dms_api_keys:
            matched |= hmac.compare_digest(presented.encode(), key.encode())
        if not matched:
            raise Unauthorized("The DMS API key is not valid for this site.", code="invalid_api_key")
        return "dms-" + uuid.uuid4().hex
    settings = current_app.config["FORECOURT"]
    try:
        return verify_standard_webhook(
            request.headers, body, site.webhook_secrets, tolerance=settings.webhook_tolerance_seconds
        )
    except SignatureError as exc:
        raise _unauthorized(exc) from None


@bp.post("/dms/<site_id>")
@bp.post(f"/dms/<site_id>{auterio.INGEST_PATH}", endpoint="dms_auterio")  # Auterio's own path
def dms(site_id: str):
    site = _site(site_id)
    body = request.get_data(cache=False)
    try:
        delivery = _authenticate_dms(site, body)
    except Unauthorized as exc:
        if auterio.looks_like_auterio(request.path, body):
            return auterio.unauthorized(exc)
        raise
    if request.path.endswith(auterio.INGEST_PATH):
        fmt: str | None = "auterio"
        try:
            data, _ = _json_body(body)
        except ApiError as exc:
            return auterio.invalid_payload(exc)
    else:
        data, _ = _json_body(body)
        fmt = detect_dms_format(data)
    if fmt is None:
        raise ValidationError({"_schema": ["Expected an Auterio ingest (vehicles[]) or a Carslink feed "
                                           "(mode, dealer, listings[])."]})
    if fmt == "auterio":  # answered in Auterio's shape: a DMS written for Auterio needs no change
        try:
            feed = load_auterio(data)
        except ValidationError as exc:
            return auterio.invalid_payload(exc)
        if not feed.accepted:
            return auterio.no_valid_vehicles(site, feed)
    else:
        feed = load_carslink_feed(data)
    key = "vin" if fmt == "auterio" else "source_id"
    now = time.time()
    request_id = g.get("request_id")
    queued = duplicates = 0
    for index, record in enumerate(feed.accepted):
        car_ref = record.get(key) or record.get("vin")
        doc = {"channel": "dms", "format": fmt, "mode": feed.mode, "record": record,
               "delivery_id": f"{delivery}:{index}", "request_id": request_id, "received_at": now}
        outcome = inbound.submit(site.id, car_ref, doc, delivery_id=f"{delivery}:{index}")
        queued += outcome != "duplicate"
        duplicates += outcome == "duplicate"
    for ref in feed.deletes:
        doc = {"channel": "dms", "format": fmt, "mode": "partial", "delete": True,
               "delivery_id": f"{delivery}:del:{ref}", "request_id": request_id, "received_at": now}
        inbound.submit(site.id, ref, doc, delivery_id=f"{delivery}:del:{ref}")
    removal_pending = 0
    if feed.mode == "full_replace":
        from app.sync.feeds import enqueue_full_replace

        try:
            removal_pending = enqueue_full_replace(site.id, sorted(feed.present_ids))
        except (RedisError, OSError):
            inbound.spool_full_replace(site.id, sorted(feed.present_ids))
            removal_pending = None
    if fmt == "auterio":
        return auterio.accepted(site, feed, delivery)
    return jsonify({
        "sync_id": delivery,
        "status": "accepted",
        "message": "Payload accepted, processing in background",
        "received_count": feed.received,
        "queued_count": queued,
        "deleted_count": len(feed.deletes),
        "success": True,
        "feed": {
            "mode": feed.mode,
            "received": feed.received,
            "accepted": len(feed.accepted),
            "skipped": len(feed.skipped),
            "removed": len(feed.deletes),
            "removal_pending": removal_pending,
        },
        "skipped_listings": feed.skipped,
        "timestamp": isoformat(utcnow()),
    }), 202
