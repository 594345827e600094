"""A loopback photo server for end-to-end runs that need real, distinct, decodable photos
(Forecourt ingests them before a car goes to a marketplace)."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from werkzeug.wrappers import Request, Response


@lru_cache(maxsize=64)
def jpeg(tint: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), ((tint * 37) % 256, (tint * 91) % 256, (tint * 53) % 256)).save(out, "JPEG")
    return out.getvalue()


class PhotoServer:
    """``GET /p/<n>.jpg``: photo number ``n``, each a different colour."""

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path = Request(environ).path
        try:
            tint = int(path.removeprefix("/p/").removesuffix(".jpg"))
        except ValueError:
            return Response("not found", 404)(environ, start_response)
        return Response(jpeg(tint), 200, content_type="image/jpeg")(environ, start_response)
