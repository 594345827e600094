"""Building connectors for destinations, live credential checks, pause and resume."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from app.connectors.base import ConnectorKind
from app.connectors.cache import RedisCache
from app.connectors.errors import ConnectorError, Reauthenticate
from app.extensions import db, redis_store
from app.jobs import enqueue
from app.sites.models import Destination
from app.sync.budget import Limits, RateBudget, budget_id
from app.sync.transport import BudgetedTransport
from app.timeutil import utcnow

log = logging.getLogger("forecourt.destinations")


def connector_class(marketplace: str):
    from app.connectors import get_connector_class

    return get_connector_class(marketplace)


def budget_for(dest: Destination) -> RateBudget:
    cls = connector_class(dest.marketplace)
    limits = cls.rate_limits
    options = dest.options or {}
    # Options let an operator match a marketplace plan (or the sandbox's short windows).
    resolved = Limits(
        reads=int(options.get("rate_reads", limits.reads)),
        writes=int(options.get("rate_writes", limits.writes)),
        window=float(options.get("rate_window", limits.window)),
    )
    # The connector names the secret its marketplace counts requests on (not "the first
    # credential": a destination may also hold an encryption key or a password).
    rate_key = cls.rate_key(dest.credentials or {})
    return RateBudget(redis_store.client, budget_id(dest.base_url, rate_key), resolved)


def build_connector(dest: Destination, *, timeout: tuple[float, float] | None = None):
    """The destination's connector on the budgeted transport; ``timeout`` (connect, read)
    overrides the settings' for a caller that must answer sooner (a shopper's lead)."""
    settings = current_app.config["FORECOURT"]
    options = {**(dest.site.options or {}), **(dest.options or {})}
    options.pop("mapping", None)
    transport = BudgetedTransport(
        budget=budget_for(dest), timeout=timeout or (settings.http_connect_timeout, settings.http_read_timeout)
    )
    cls = connector_class(dest.marketplace)
    known = set(cls.option_names)
    if known:
        options = {k: v for k, v in options.items() if k in known}
    return cls(
        base_url=dest.base_url,
        credentials=dest.credentials or {},
        options=options,
        transport=transport,
        cache=RedisCache(redis_store.client),
    )


def check_destination(dest: Destination) -> tuple[bool, str]:
    """Live credential check; resumes a paused destination when it passes."""
    try:
        info: Any = build_connector(dest).check_credentials()
    except Reauthenticate as exc:
        return False, exc.message
    except ConnectorError as exc:
        return False, exc.message
    if dest.paused:
        resume(dest)
    return True, _summary(info)


def _summary(info: Any) -> str:
    if isinstance(info, dict):
        for key in ("showroom", "name", "account"):
            if info.get(key):
                value = info[key]
                return str(value.get("name") if isinstance(value, dict) else value)
    return "credentials accepted"


def parked_key(destination_id: int) -> str:
    return f"fc:parked:{destination_id}"


def pause(dest: Destination, reason: str) -> None:
    if not dest.paused:
        log.warning("destination paused", extra={"destination": dest.slug, "reason": reason})
    dest.paused, dest.paused_reason, dest.paused_at = True, reason[:500], utcnow()


def park(destination_id: int, car_id: int) -> None:
    """Remember a car whose push waits for its destination to be resumed."""
    redis_store.client.sadd(parked_key(destination_id), car_id)


def resume(dest: Destination) -> int:
    """Unpause and push every car that waited; returns how many were re-enqueued."""
    dest.paused, dest.paused_reason, dest.paused_at = False, None, None
    db.session.commit()
    if connector_class(dest.marketplace).kind is ConnectorKind.FEED:
        # A feed's cars never left its pending set: one batch sends them all.
        enqueue.send_batch(dest.id, site_id=dest.site_id)
        log.info("destination resumed", extra={"destination": dest.slug})
        return 1
    client = redis_store.client
    car_ids = [int(x) for x in client.smembers(parked_key(dest.id))]
    for car_id in car_ids:
        enqueue.push(car_id, dest.id)
        client.srem(parked_key(dest.id), car_id)
    log.info("destination resumed", extra={"destination": dest.slug, "requeued": len(car_ids)})
    return len(car_ids)
