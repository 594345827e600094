"""Admin endpoints of whole-stock feeds, the CSV export, and Carslink's pull endpoint."""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify, request

from app.auth import keys
from app.errors import ApiError, NotFound, Unauthorized
from app.extensions import db, redis_store
from app.feeds import service
from app.jobs import enqueue
from app.sites.models import Site
from app.sync import feed_status
from app.webhooks.signatures import SignatureError, verify_auth_templates

admin = Blueprint("feeds_admin", __name__, url_prefix="/api/v1/sites/<site_id>/destinations/<marketplace>")
pull = Blueprint("feeds_pull", __name__, url_prefix="/feeds")

# Carslink pulls at noon and midnight; a partner's retries and checks fit well inside this.
PULL_PER_MINUTE = 30


@admin.get("/feed")
def status(site_id: str, marketplace: str):
    keys.require(request, "sites:read", site_id)
    return jsonify(feed_status.summary(service.feed_destination(site_id, marketplace)))


@admin.post("/full-feed")
def send_full(site_id: str, marketplace: str):
    keys.require(request, "sync:write", site_id)
    dest = service.feed_destination(site_id, marketplace)
    job = enqueue.send_full(dest.id, site_id=site_id)
    return jsonify(jobs=[job.id]), 202


@admin.post("/full-feed/confirm")
def confirm(site_id: str, marketplace: str):
    principal = keys.require(request, "sync:write", site_id)
    dest = service.feed_destination(site_id, marketplace)
    held = feed_status.confirm(dest, by=f"api:{principal.name}")
    if held is None:
        raise ApiError("No full feed is held for this destination.", status=409, code="nothing_held")
    return jsonify(confirmed=held), 202


@admin.get("/export.csv")
def export_csv(site_id: str, marketplace: str):
    keys.require(request, "sites:read", site_id)
    dest = service.feed_destination(site_id, marketplace)
    if marketplace != "carslink":
        raise NotFound(f"{marketplace!r} has no CSV export.")
    return Response(service.carslink_csv(dest), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="carslink-{site_id}.csv"'})


@pull.get("/carslink/<site_id>")
def carslink(site_id: str):
    """Option B: Carslink pulls what a full_replace would send, with the partner's auth choice."""
    site = db.session.get(Site, site_id)
    templates = (site.secrets or {}).get("feed_pull_auth") if site and site.active else None
    if not templates:
        raise NotFound(f"No pull feed for site {site_id!r}.")
    try:
        verify_auth_templates(request.headers, templates)
    except SignatureError as exc:
        raise Unauthorized("A valid feed credential is required.", code=exc.code) from None
    _rate_limit(site_id)
    dest = service.feed_destination(site_id, "carslink")
    held = feed_status.status_of(dest).get("held")
    if held and not held.get("confirmedAt"):
        # A pull replaces the stock as a push would: the guard's hold applies to both.
        raise ApiError(f"The full feed is held until confirmed: {held['reason']}", status=503, code="feed_held",
                       headers={"Retry-After": "3600"})
    body, etag = service.carslink_feed_bytes(dest)
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return Response(status=304, headers={"ETag": etag})
    return Response(body, mimetype="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})


def _rate_limit(site_id: str) -> None:
    window = int(time.time() // 60)
    key = f"fc:pull:{site_id}:{window}"
    count = redis_store.client.incr(key)
    if count == 1:
        redis_store.client.expire(key, 120)
    if count > PULL_PER_MINUTE:
        retry = 60 - int(time.time() % 60)
        raise ApiError(f"At most {PULL_PER_MINUTE} pulls a minute.", status=429, code="rate_limited",
                       headers={"Retry-After": str(retry)})
