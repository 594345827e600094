"""Sites as the hot path needs them, cached in-process for a few seconds: a webhook must
not pay for a database query and a decryption on every delivery."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from app.extensions import db
from app.sites.models import Site

TTL_SECONDS = 5.0


@dataclass(frozen=True)
class SiteView:
    id: str
    name: str
    preset: str
    car_post_types: tuple[str, ...]
    webhook_secrets: tuple[str, ...] = field(repr=False)
    dms_api_keys: tuple[str, ...] = field(repr=False)
    wp_webhooks_auth: tuple[dict[str, str], ...] = field(default=(), repr=False)


_cache: dict[str, tuple[float, SiteView | None]] = {}
_lock = threading.Lock()


def get_site(site_id: str) -> SiteView | None:
    now = time.monotonic()
    hit = _cache.get(site_id)
    if hit and hit[0] > now:
        return hit[1]
    site = db.session.get(Site, site_id)
    view = None
    if site is not None and site.active:
        view = SiteView(
            id=site.id,
            name=site.name,
            preset=site.preset,
            car_post_types=tuple(site.car_post_types or ()),
            webhook_secrets=tuple(site.webhook_secrets),
            dms_api_keys=tuple(site.dms_api_keys),
            wp_webhooks_auth=tuple(site.wp_webhooks_auth),
        )
    if view is not None:
        # Unknown ids are not cached: anyone can send them, and they must not grow memory.
        with _lock:
            _cache[site_id] = (now + TTL_SECONDS, view)
    return view


def clear() -> None:
    with _lock:
        _cache.clear()
