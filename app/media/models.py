"""What Forecourt knows about each photo URL it has been asked to ingest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

OK = "ok"
ERROR = "error"


class MediaAsset(db.Model):
    """One source URL and the normalised file it became (or why it could not).

    ``etag``/``last_modified`` are the source's validators, replayed as If-None-Match /
    If-Modified-Since; ``source_sha256`` recognises the same bytes under a new URL or validator;
    ``media_sha256`` is the store's content address. On a permanent failure after an earlier
    success the media fields are kept, so the last good file stays on disk for inspection.
    """

    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_url: Mapped[str] = mapped_column(String(2048), unique=True)
    status: Mapped[str] = mapped_column(String(8), default=ERROR)  # ok | error
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    source_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    source_bytes: Mapped[int | None] = mapped_column(Integer)
    media_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    media_bytes: Mapped[int | None] = mapped_column(Integer)
    recipe: Mapped[str | None] = mapped_column(String(32))  # normalise.recipe() that made the file
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(500))
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last full download
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last time we asked the source
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def ok(self) -> bool:
        return self.status == OK and bool(self.media_sha256)

    def __repr__(self) -> str:
        return f"<MediaAsset {self.id} {self.status} {self.source_url[:80]!r}>"
