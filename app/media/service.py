"""Photos for the sync engine: what to ingest, ingesting one, and what a listing may show.

The engine's flow for one car (``images`` is the car's ordered ``[{"url", "id"?}, ...]``)::

    jobs = service.enqueue_missing(images)          # one RQ job per photo, on the "images" queue
    ... enqueue the push with depends_on=Dependency(jobs, allow_failure=True) ...
    good, bad = service.resolve(images)             # at push time: media URLs, hero first
    # good -> the listing's image URLs; bad -> the car's status ("photo 3: HTTP 404 ...")

* ``plan(images)`` – the source URLs that still need work (new, failed a while ago, or not
  re-checked for ``RECHECK_AFTER``). Pure read.
* ``ingest(url)`` – fetch, normalise, store, record. Idempotent: a fresh ``ok`` asset is returned
  without network; a stale one is re-checked with If-None-Match/If-Modified-Since (304 → nothing
  else happens), and unchanged bytes (same sha256, even under a new URL) are never re-encoded.
  Transient failures raise ``RetryableImageError`` (RQ retries); permanent ones are recorded on
  the asset (``status="error"``) and the asset is returned.
* ``resolve(images)`` – ``(good, bad)`` in the car's order with the hero first; one bad photo
  never blocks the others.

All functions need an app context; ``ingest`` commits, the others only read.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.media.fetch import MAX_URL_LENGTH, Fetcher, FetchError, check_url
from app.media.models import ERROR, OK, MediaAsset
from app.media.normalise import DEFAULT_LONG_EDGE, ImageError, normalise, recipe
from app.media.store import MediaStore, get_store
from app.timeutil import utcnow

log = logging.getLogger("forecourt.media")

RECHECK_AFTER = timedelta(hours=24)  # how long an ok photo is trusted before a conditional GET
ERROR_RECHECK_AFTER = timedelta(hours=1)  # a failed photo is retried on a later sync after this
JOB_TIMEOUT = 180  # fetch deadline (60 s) + decoding a 40 MP photo, with room to spare
NOT_INGESTED = "the photo has not been downloaded yet"

ImageSpec = Mapping[str, Any] | str


class RetryableImageError(Exception):
    """A transient failure (timeout, connection, DNS, 5xx, 429): the RQ job should retry."""

    def __init__(self, source_url: str, message: str, code: str) -> None:
        super().__init__(f"{message} ({source_url})")
        self.source_url = source_url
        self.message = message
        self.code = code


# --------------------------------------------------------------------------- helpers


def _settings() -> Any:
    return current_app.config["FORECOURT"]


_fetchers: dict[tuple, Fetcher] = {}


def default_fetcher() -> Fetcher:
    """A pooled fetcher for the current settings, one per process (RQ forks per job)."""
    settings = _settings()
    key = (os.getpid(), tuple(settings.media_allow_private_hosts), settings.http_connect_timeout,
           settings.http_read_timeout)
    fetcher = _fetchers.get(key)
    if fetcher is None:
        for stale in [k for k in _fetchers if k[0] != key[0]]:
            _fetchers.pop(stale)  # inherited from the parent: never reuse its sockets
        fetcher = _fetchers[key] = Fetcher.from_settings(settings)
    return fetcher


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone=True columns; they were stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _specs(images: Iterable[ImageSpec]) -> list[dict[str, Any]]:
    """``[{"url", "id"?, "hero"?}]`` from dicts or bare strings; url stripped, '' when missing."""
    out = []
    for image in images or ():
        if isinstance(image, str):
            out.append({"url": image.strip()})
            continue
        url = image.get("url") if isinstance(image, Mapping) else None
        spec: dict[str, Any] = {"url": url.strip() if isinstance(url, str) else ""}
        if image.get("id") is not None:
            spec["id"] = image["id"]
        if image.get("hero") or image.get("isHero"):
            spec["hero"] = True
        out.append(spec)
    return out


def _assets_by_url(urls: Sequence[str]) -> dict[str, MediaAsset]:
    found: dict[str, MediaAsset] = {}
    unique = list(dict.fromkeys(u for u in urls if u))
    for start in range(0, len(unique), 500):
        batch = unique[start : start + 500]
        for asset in db.session.scalars(select(MediaAsset).where(MediaAsset.source_url.in_(batch))):
            found[asset.source_url] = asset
    return found


def _needs_ingest(asset: MediaAsset | None, now: datetime, wanted_recipe: str, store: MediaStore) -> bool:
    if asset is None:
        return True
    checked = _aware(asset.checked_at)
    if asset.ok:
        if asset.recipe != wanted_recipe or not store.exists(asset.media_sha256):
            return True
        return checked is None or now - checked >= RECHECK_AFTER
    return checked is None or now - checked >= ERROR_RECHECK_AFTER


def media_url(media_sha256: str) -> str:
    """The public URL of a stored file: ``{PUBLIC_BASE_URL}/media/<sha256>.webp``."""
    return get_store().url(media_sha256)


# --------------------------------------------------------------------------- plan


def plan(
    images: Iterable[ImageSpec], *, now: datetime | None = None, long_edge: int = DEFAULT_LONG_EDGE
) -> list[str]:
    """Source URLs of ``images`` that need ``ingest`` now, in order, without duplicates.

    New URLs, ok photos last checked more than ``RECHECK_AFTER`` ago (or whose file is missing,
    or made with other settings), and failed photos last tried more than ``ERROR_RECHECK_AFTER``
    ago. URLs that can never be fetched (bad scheme, credentials) are left to ``resolve`` to report.
    """
    now = now or utcnow()
    store = get_store()
    wanted = recipe(long_edge)
    urls = []
    for spec in _specs(images):
        url = spec["url"]
        if url and url not in urls and len(url) <= MAX_URL_LENGTH:
            urls.append(url)
    assets = _assets_by_url(urls)
    return [url for url in urls if _needs_ingest(assets.get(url), now, wanted, store)]


# --------------------------------------------------------------------------- ingest


# ImageError codes: the downloaded bytes themselves are unusable.
_CONTENT_ERRORS = frozenset({"not_an_image", "unsupported_format", "too_large", "animated", "corrupt"})


def _get_or_create(url: str) -> MediaAsset:
    asset = db.session.scalar(select(MediaAsset).where(MediaAsset.source_url == url))
    if asset is None:
        # Not committed here: one transaction per ingest. ``_save`` settles an insert race.
        asset = MediaAsset(source_url=url, status=ERROR, error_code="pending", error=NOT_INGESTED)
        db.session.add(asset)
    return asset


def _save(asset: MediaAsset) -> MediaAsset:
    """Commit; if another worker inserted the same URL meanwhile (two cars sharing a photo),
    its row wins and is returned: it went through the same steps for the same URL."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(MediaAsset).where(MediaAsset.source_url == asset.source_url))
        if existing is None:
            raise
        return existing
    return asset


def _fail(asset: MediaAsset, code: str, message: str) -> None:
    asset.status = ERROR
    asset.error_code = code[:32]
    asset.error = message[:500]


def ingest(
    source_url: str,
    *,
    force: bool = False,
    final: bool = True,
    long_edge: int = DEFAULT_LONG_EDGE,
    fetcher: Fetcher | None = None,
    store: MediaStore | None = None,
    now: datetime | None = None,
) -> MediaAsset:
    """Make ``source_url`` available as a normalised WebP in the store; return its asset.

    ``force`` skips the freshness short-cut (a conditional GET is still used). ``final=False``
    (set by the RQ job while retries remain) makes transient failures raise
    ``RetryableImageError``; with ``final=True`` they are recorded like permanent ones.
    Commits the session. A URL too long to store comes back as an unsaved error asset.
    """
    now = now or utcnow()
    url = source_url.strip() if isinstance(source_url, str) else ""
    store = store or get_store()
    wanted = recipe(long_edge)
    try:
        check_url(url)
    except FetchError as exc:
        if not url or len(url) > MAX_URL_LENGTH:
            return MediaAsset(source_url=url[:MAX_URL_LENGTH], status=ERROR, error_code=exc.code, error=exc.message)
        asset = _get_or_create(url)
        _fail(asset, exc.code, exc.message)
        asset.checked_at = now
        return _save(asset)

    asset = _get_or_create(url)
    if not force and asset.ok and not _needs_ingest(asset, now, wanted, store):
        return asset

    fetcher = fetcher or default_fetcher()
    reusable = asset.ok and asset.recipe == wanted and store.exists(asset.media_sha256)
    # A photo that failed on its content (animated, too big...) is not decoded again while the
    # source serves the same bytes; like a good photo, it is asked for conditionally.
    known_bad = not asset.ok and asset.error_code in _CONTENT_ERRORS and bool(asset.source_sha256)
    conditional = reusable or known_bad
    try:
        result = fetcher.fetch(
            url,
            etag=asset.etag if conditional else None,
            last_modified=asset.last_modified if conditional else None,
        )
    except FetchError as exc:
        asset.checked_at = now
        if exc.retryable and not final:
            if not asset.ok:
                # Keep a previous good version serving; otherwise say what is happening.
                _fail(asset, exc.code, f"{exc.message}; retrying")
            _save(asset)
            raise RetryableImageError(url, exc.message, exc.code) from exc
        _fail(asset, exc.code, exc.message)
        log.info("photo refused", extra={"url": url, "code": exc.code, "error": exc.message})
        return _save(asset)

    asset.checked_at = now
    if result.not_modified:
        asset.etag, asset.last_modified = result.etag, result.last_modified
        return _save(asset)

    source_sha = result.sha256 or hashlib.sha256(result.content).hexdigest()
    asset.etag, asset.last_modified = result.etag, result.last_modified
    asset.fetched_at = now
    asset.source_bytes = len(result.content)
    if conditional and asset.source_sha256 == source_sha:
        return _save(asset)  # same bytes behind new validators: nothing to decode again
    asset.source_sha256 = source_sha

    with db.session.no_autoflush:  # a new row is inserted by ``_save``, where races are handled
        twin = db.session.scalar(
            select(MediaAsset).where(
                MediaAsset.source_sha256 == source_sha, MediaAsset.status == OK,
                MediaAsset.recipe == wanted, MediaAsset.source_url != url,
            ).limit(1)
        )
    if twin is not None and twin.media_sha256 and store.exists(twin.media_sha256):
        # The same photo under another URL: share its file instead of decoding again.
        media_sha, width, height, size = twin.media_sha256, twin.width, twin.height, twin.media_bytes
    else:
        try:
            image = normalise(result.content, long_edge=long_edge)
        except ImageError as exc:
            _fail(asset, exc.code, exc.message)
            log.info("photo refused", extra={"url": url, "code": exc.code, "error": exc.message})
            return _save(asset)
        store.put(image.sha256, image.data)
        media_sha, width, height, size = image.sha256, image.width, image.height, len(image.data)

    asset.status = OK
    asset.error_code = asset.error = None
    asset.media_sha256, asset.width, asset.height, asset.media_bytes = media_sha, width, height, size
    asset.recipe = wanted
    return _save(asset)


# --------------------------------------------------------------------------- resolve


def resolve(images: Iterable[ImageSpec]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a car's photos into what a listing can show and what it cannot.

    Returns ``(good, bad)``: ``good`` is ``[{"url": media URL, "source": source URL, "id"?}]``
    in the car's order, the photo flagged ``hero``/``isHero`` (else the first one) first;
    ``bad`` is ``[{"url": source URL, "error": message, "position", "id"?}]`` (``position``: 1-based,
    in the order given) for photos that failed, are not ingested yet, or repeat an earlier photo's
    file (sending the same image twice only wastes one of a marketplace's photo slots).
    """
    specs = _specs(images)
    for position, spec in enumerate(specs, start=1):
        spec["position"] = position  # in the car's own order, for "photo 3: HTTP 404" messages
    hero = next((i for i, s in enumerate(specs) if s.get("hero")), None)
    if hero is not None:
        specs.insert(0, specs.pop(hero))
    assets = _assets_by_url([s["url"] for s in specs])
    store = get_store()
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for spec in specs:
        url = spec["url"]
        extra = {"id": spec["id"]} if "id" in spec else {}
        asset = assets.get(url)
        failed = {**extra, "position": spec["position"]}
        if not url:
            bad.append({"url": url, "error": "the photo has no URL", **failed})
        elif asset is None:
            try:
                check_url(url)
            except FetchError as exc:
                bad.append({"url": url, "error": exc.message, **failed})
                continue
            bad.append({"url": url, "error": NOT_INGESTED, **failed})
        elif not asset.ok:
            bad.append({"url": url, "error": asset.error or "the photo could not be used", **failed})
        elif asset.media_sha256 in seen:
            bad.append({"url": url, "error": f"the same photo as {seen[asset.media_sha256]}", **failed})
        else:
            seen[asset.media_sha256] = url
            good.append({"url": store.url(asset.media_sha256), "source": url, **extra})
    return good, bad


# --------------------------------------------------------------------------- queueing


def job_id_for(source_url: str) -> str:
    """One RQ job id per URL, so two cars (or two syncs) sharing a photo share its job."""
    return "media-" + hashlib.sha256(source_url.encode()).hexdigest()[:40]


def enqueue_ingest(source_url: str, *, queue_name: str | None = None) -> Any:
    """Enqueue the photo's ingest job (or return the same URL's pending job)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from app.extensions import redis_store
    from app.jobs import enqueue

    job_id = job_id_for(source_url)
    connection = redis_store.client
    try:
        existing = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        status = existing.get_status(refresh=False)
        if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            return existing
        existing.delete()  # finished or failed earlier: replace it with a fresh run
    return enqueue.ingest_image(source_url, job_id=job_id, job_timeout=JOB_TIMEOUT, queue_name=queue_name)


def enqueue_missing(images: Iterable[ImageSpec], *, queue_name: str | None = None) -> list[Any]:
    """Enqueue an ingest job for each photo ``plan`` selects; returns the jobs for ``depends_on``.

    Use ``rq.job.Dependency(jobs=..., allow_failure=True)`` so a photo that ultimately fails
    still lets the car's push run (and report it) instead of blocking it forever.
    """
    return [enqueue_ingest(url, queue_name=queue_name) for url in plan(images)]
