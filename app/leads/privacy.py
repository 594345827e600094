"""Personal data in leads: the keyed email hash, erasure by email, and the retention purge.

The email hash is an HMAC under a key derived from each ``FORECOURT_ENCRYPTION_KEYS`` key (the
current one stores, every one matches), so the database alone never reveals whether an address
sent a lead, and rotation does not hide old leads from an erasure request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

from sqlalchemy import delete, select

from app.extensions import db
from app.leads.models import Lead, LeadDelivery
from app.security.crypto import vault
from app.timeutil import utcnow

log = logging.getLogger("forecourt.leads")
_PURPOSE = "lead-email"


def _normal(email: str) -> bytes:
    return email.strip().casefold().encode("utf-8")


def email_hash(email: str) -> str:
    """The hash stored with a new lead (current key)."""
    return hmac.new(vault.derived_keys(_PURPOSE)[0], _normal(email), hashlib.sha256).hexdigest()


def email_hashes(email: str) -> list[str]:
    """Every hash this address may be stored under (one per configured key)."""
    return [hmac.new(key, _normal(email), hashlib.sha256).hexdigest() for key in vault.derived_keys(_PURPOSE)]


def erase_email(email: str, site_id: str | None = None) -> int:
    """Delete every lead of ``email`` (at one site, or all); returns how many. Their delivery
    rows go with them; what Roadster holds is Roadster's to erase."""
    query = select(Lead.id).where(Lead.email_hash.in_(email_hashes(email)))
    if site_id is not None:
        query = query.where(Lead.site_id == site_id)
    ids = list(db.session.scalars(query))
    for lead in db.session.scalars(select(Lead).where(Lead.id.in_(ids))):
        db.session.delete(lead)  # ORM delete: the deliveries cascade on every database
    db.session.commit()
    log.info("leads erased", extra={"count": len(ids), "site": site_id})
    return len(ids)


def purge_older_than(days: int) -> int:
    """Delete leads received more than ``days`` ago; returns how many."""
    cutoff = utcnow() - timedelta(days=days)
    ids = list(db.session.scalars(select(Lead.id).where(Lead.created_at < cutoff)))
    if ids:
        db.session.execute(delete(LeadDelivery).where(LeadDelivery.lead_id.in_(ids)))
        db.session.execute(delete(Lead).where(Lead.id.in_(ids)))
    db.session.commit()
    log.info("leads purged", extra={"count": len(ids), "retention_days": days})
    return len(ids)
