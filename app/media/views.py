"""Serves stored photos at ``/media/<sha256>.webp``: public, immutable, cacheable for a year."""

from __future__ import annotations

import re

from flask import Blueprint, Response, send_file

from app.errors import NotFound
from app.media.store import CACHE_CONTROL, CONTENT_TYPE, LocalMediaStore, get_store

bp = Blueprint("media", __name__, url_prefix="/media")

# The whole file name is matched, and only a hex digest reaches the filesystem, so no ``..``,
# separator, encoded slash or alternative extension can name another file.
_NAME = re.compile(r"([0-9a-f]{64})\.webp")
ONE_YEAR = 31_536_000


@bp.get("/<name>")
def media_file(name: str) -> Response:
    """The file, with a strong ETag (its hash); If-None-Match answers 304, Range is honoured."""
    match = _NAME.fullmatch(name)
    store = get_store()
    if match is None or not isinstance(store, LocalMediaStore):
        raise NotFound("No such media file.")
    sha256 = match.group(1)
    path = store.path(sha256)
    if not path.is_file():
        raise NotFound("No such media file.")
    response = send_file(path, mimetype=CONTENT_TYPE, etag=sha256, conditional=True, max_age=ONE_YEAR,
                         last_modified=None)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
