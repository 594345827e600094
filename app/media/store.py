"""Where normalised photos live: content-addressed by the sha256 of the WebP bytes.

A content address makes writes idempotent (same bytes, same name, written once), lets two cars
or two URLs share one file, and makes every URL immutable, so it can be cached for a year.

``LocalMediaStore`` keeps files under ``<FORECOURT_VAR_DIR>/media/<sha[:2]>/<sha>.webp`` and
Forecourt serves them itself (``app.media.views``) at ``{PUBLIC_BASE_URL}/media/<sha>.webp``.
``S3MediaStore`` puts them in an S3-compatible bucket instead when ``MEDIA_S3_BUCKET`` is set
(with ``MEDIA_S3_PUBLIC_URL``, the CDN or bucket URL marketplaces fetch from, and optionally
``MEDIA_S3_ENDPOINT_URL`` / ``MEDIA_S3_REGION``; credentials come from boto3's usual chain).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from flask import current_app

SHA256 = re.compile(r"[0-9a-f]{64}")
CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPE = "image/webp"


class MediaStore(Protocol):
    def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under its hash; a no-op when it is already there."""

    def exists(self, sha256: str) -> bool: ...

    def url(self, sha256: str) -> str:
        """The stable public URL marketplaces fetch."""


def _check(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


class LocalMediaStore:
    def __init__(self, root: Path, public_base_url: str) -> None:
        self.root = Path(root).resolve()
        self.public_base_url = public_base_url.rstrip("/")

    def path(self, sha256: str) -> Path:
        # Only a validated hex digest ever becomes a path, so no name can climb out of root.
        sha256 = _check(sha256)
        return self.root / sha256[:2] / f"{sha256}.webp"

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.is_file():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader (or a crash) never sees a half-written file under the name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".webp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def url(self, sha256: str) -> str:
        return f"{self.public_base_url}/media/{_check(sha256)}.webp"


class S3MediaStore:
    """An S3-compatible bucket (AWS, R2, MinIO...) behind a public base URL (CDN or bucket)."""

    def __init__(
        self,
        bucket: str,
        public_base_url: str,
        *,
        prefix: str = "media/",
        endpoint_url: str | None = None,
        region_name: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/")
        self.prefix = prefix
        self._client = client
        self._client_kwargs = {"endpoint_url": endpoint_url, "region_name": region_name}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # optional dependency: only needed when this store is configured

            self._client = boto3.client("s3", **{k: v for k, v in self._client_kwargs.items() if v})
        return self._client

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{_check(sha256)}.webp"

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except Exception as exc:  # botocore ClientError; imported lazily like boto3
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return False
            raise
        return True

    def put(self, sha256: str, data: bytes) -> None:
        if self.exists(sha256):
            return
        self.client.put_object(
            Bucket=self.bucket, Key=self.key(sha256), Body=data,
            ContentType=CONTENT_TYPE, CacheControl=CACHE_CONTROL,
        )

    def url(self, sha256: str) -> str:
        return f"{self.public_base_url}/{self.key(sha256)}"


def local_store(settings: Any = None) -> LocalMediaStore:
    """The disk store for these settings (default: the current app's)."""
    settings = settings or current_app.config["FORECOURT"]
    return LocalMediaStore(Path(settings.var_dir) / "media", settings.public_base_url)


_s3_stores: dict[tuple[str, str | None, str | None, str], S3MediaStore] = {}


def get_store(settings: Any = None) -> MediaStore:
    """The configured store: an S3-compatible bucket when MEDIA_S3_BUCKET is set, else local disk."""
    settings = settings or current_app.config["FORECOURT"]
    if not settings.media_s3_bucket:
        return local_store(settings)
    key = (settings.media_s3_bucket, settings.media_s3_endpoint_url, settings.media_s3_region,
           settings.media_s3_public_url)
    store = _s3_stores.get(key)
    if store is None:  # one boto3 client per process: creating one costs tens of milliseconds
        store = _s3_stores[key] = S3MediaStore(
            settings.media_s3_bucket, settings.media_s3_public_url,
            endpoint_url=settings.media_s3_endpoint_url, region_name=settings.media_s3_region,
        )
    return store
