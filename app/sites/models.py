"""Dealer sites and their marketplace destinations (credentials encrypted at rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.security.crypto import EncryptedJSON
from app.timeutil import utcnow


class Site(db.Model):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    wordpress_url: Mapped[str | None] = mapped_column(String(500))
    preset: Mapped[str] = mapped_column(String(64))
    car_post_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"webhook_secrets": [...], "dms_api_keys": [...], "wp_webhooks_auth": [{type, ...}]}:
    # several values allow rotation.
    secrets: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    destinations: Mapped[list[Destination]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="Destination.id"
    )

    @property
    def webhook_secrets(self) -> list[str]:
        return list((self.secrets or {}).get("webhook_secrets", []))

    @property
    def dms_api_keys(self) -> list[str]:
        return list((self.secrets or {}).get("dms_api_keys", []))

    @property
    def wp_webhooks_auth(self) -> list[dict[str, str]]:
        """WP Webhooks 3.x authentication templates (api_key / bearer / basic)."""
        return list((self.secrets or {}).get("wp_webhooks_auth", []))


class Destination(db.Model):
    __tablename__ = "destinations"
    __table_args__ = (UniqueConstraint("site_id", "marketplace"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    marketplace: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(500))
    credentials: Mapped[dict[str, str]] = mapped_column(EncryptedJSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(String(500))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Feed sinks that take a whole stock: the last accepted full feed, a held one, the
    # freshness alarm (app.sync.feed_status owns the shape).
    feed_status: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    site: Mapped[Site] = relationship(back_populates="destinations")

    @property
    def slug(self) -> str:
        return f"{self.site_id}/{self.marketplace}"
