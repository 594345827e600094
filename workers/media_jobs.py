"""RQ jobs for photo ingestion; they run on the ``images`` queue (see ``app.media.service``)."""

from __future__ import annotations

from typing import Any

from workers.context import job


@job
def ingest_image(source_url: str) -> dict[str, Any]:
    """Fetch, normalise and store one photo. Raises ``RetryableImageError`` while RQ retries remain."""
    from rq import get_current_job

    from app.media import service

    current = get_current_job()
    # Transient failures raise (so RQ retries) until the last attempt, which records them instead.
    final = not (current and current.retries_left)
    asset = service.ingest(source_url, final=final)
    return {"status": asset.status, "media_sha256": asset.media_sha256, "error": asset.error}
