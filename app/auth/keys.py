"""Who may call the admin API and the dashboard, and with what scopes.

``FORECOURT_ADMIN_TOKEN`` holds every scope (the break-glass key). Narrower keys are created
with ``flask forecourt keys create --scope ...``; only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import Request, current_app
from sqlalchemy import select

from app.auth.models import ApiKey
from app.errors import Forbidden, Unauthorized
from app.extensions import db
from app.timeutil import utcnow

SCOPES = {
    "sites:read": "read sites, cars, sync state and history",
    "sync:write": "trigger Sync Now and reconciliation",
    "jobs:replay": "replay failed jobs",
    "dashboard:read": "view the RQ dashboard",
    "dashboard:write": "requeue, delete or empty jobs from the RQ dashboard",
    "leads:write": "build Express links and erase shoppers' leads",
}
ALL_SCOPES = frozenset(SCOPES)
KEY_PREFIX = "fck_"


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]
    site_id: str | None = None  # None = all sites

    def can(self, scope: str, site_id: str | None = None) -> bool:
        if scope not in self.scopes:
            return False
        return self.site_id is None or site_id is None or self.site_id == site_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(name: str, scopes: list[str], site_id: str | None = None) -> tuple[ApiKey, str]:
    unknown = set(scopes) - ALL_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name, prefix=token[:10], token_hash=hash_token(token), scopes=sorted(scopes), site_id=site_id
    )
    db.session.add(key)
    db.session.commit()
    return key, token


def presented_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        # Browsers can only offer Basic auth for the dashboard: the password is the token.
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def resolve(token: str | None) -> Principal | None:
    if not token:
        return None
    admin_token = current_app.config["FORECOURT"].admin_token
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(name="admin", scopes=ALL_SCOPES)
    if not token.startswith(KEY_PREFIX):
        return None
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.token_hash == hash_token(token), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        return None
    key.last_used_at = utcnow()
    db.session.commit()
    return Principal(name=key.name, scopes=frozenset(key.scopes), site_id=key.site_id)


def require(request: Request, scope: str, site_id: str | None = None, *, all_sites: bool = False) -> Principal:
    """The caller's principal, or 401/403. ``all_sites``: the action spans every dealer (the
    dashboard, metrics, jobs that belong to no site), so a key limited to one site may not."""
    principal = resolve(presented_token(request))
    if principal is None:
        raise Unauthorized(
            "A valid admin key is required.",
            headers={"WWW-Authenticate": 'Bearer realm="forecourt"'},
        )
    if all_sites and principal.site_id is not None:
        raise Forbidden("This key is limited to one site; this action spans every site.")
    if not principal.can(scope, site_id):
        raise Forbidden(f"This key lacks the '{scope}' scope" + (f" for site '{site_id}'." if site_id else "."))
    return principal
