"""Helpers shared by the sandbox tests and their fixtures (kept out of conftest so test
modules can import them by name)."""

from __future__ import annotations

import struct
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests

from sandbox.app import SandboxRegistry
from sandbox.carzle import CarzleSandbox
from sandbox.common import SandboxSettings

KEYS = {
    "full": "cz_test_full_alpha",  # all scopes, showroom alpha
    "ro": "cz_test_readonly_alpha",  # listings:read only
    "rw": "cz_test_readwrite_alpha",  # read + write, no delete
    "beta": "cz_test_full_beta",  # all scopes, showroom beta
}
CARSLINK_KEYS = {"partner": "cl_test_partner", "other": "cl_test_other_partner"}
AUTERIO_KEYS = {"dms": "au_test_dms", "second": "au_test_dms_second", "other": "au_test_other_dealer"}


def baseline_settings() -> SandboxSettings:
    # Production defaults except image sources: tests serve images from 127.0.0.1 over http.
    return SandboxSettings(
        require_https_images=False,
        allow_private_image_hosts=True,
        image_timeout_seconds=2.0,
        carzle_keys=[
            f"{KEYS['full']}:alpha:*",
            f"{KEYS['ro']}:alpha:listings:read",
            f"{KEYS['rw']}:alpha:listings:read,listings:write",
            f"{KEYS['beta']}:beta:*",
        ],
        carslink_keys=[f"{CARSLINK_KEYS['partner']}:acme-dms", f"{CARSLINK_KEYS['other']}:other-dms"],
        auterio_keys=[
            f"{AUTERIO_KEYS['dms']}:smith:DMS Cliente XYZ",
            f"{AUTERIO_KEYS['second']}:smith:Second DMS",
            f"{AUTERIO_KEYS['other']}:jones:Jones DMS",
        ],
    )


# --------------------------------------------------------------------------- images


def png_bytes(width: int = 4, height: int = 3, tint: int = 0, *, header_only: bool = False) -> bytes:
    """A valid RGB PNG; ``tint`` makes distinct images with distinct hashes.

    ``header_only`` stops after IHDR: enough to claim huge dimensions without the pixels.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes([tint % 256, 80, 160]) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    if header_only:
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int = 64, height: int = 48, tint: int = 0) -> bytes:
    """JFIF header + SOF0 with the given size: enough for magic-byte and size sniffing."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", height, width) + b"\x03\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + bytes([tint % 256]) * 32 + b"\xff\xd9"


@dataclass
class ImageServer:
    base_url: str
    files: dict[str, tuple[str, bytes]]
    hits: Counter[str] = field(default_factory=Counter)

    def url(self, path: str) -> str:
        return self.base_url + path


def image_handler(server_state: ImageServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            server_state.hits[self.path] += 1
            if self.path.startswith("/redirect/"):
                self.send_response(302)
                self.send_header("Location", "/img/" + self.path.removeprefix("/redirect/"))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.startswith("/status/"):
                self._send(int(self.path.removeprefix("/status/")), "text/plain", b"nope")
                return
            if self.path.startswith("/slow/"):
                time.sleep(float(self.path.removeprefix("/slow/")))
                self._send(200, "image/png", png_bytes())
                return
            entry = server_state.files.get(self.path)
            if entry is None:
                self._send(404, "text/plain", b"not found")
                return
            self._send(200, *entry)

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep pytest output clean

    return Handler


@dataclass
class SandboxServer:
    root: str  # http://127.0.0.1:PORT
    carzle_url: str  # ROOT/carzle/api/v1
    registry: SandboxRegistry
    carzle: CarzleSandbox


class FeedApi:
    """A client for one feed endpoint (Carslink, Auterio) sending fixed auth headers."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.session = requests.Session()

    def post(self, body: Any = None, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        merged = {**self.headers, **(headers or {})}
        if data is not None:
            return self.session.post(self.url, data=data, headers=merged, timeout=15)
        return self.session.post(self.url, json=body, headers=merged, timeout=15)


class Api:
    """A Carzle client over real HTTP; ``key=None`` sends no Authorization header."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url
        self.key = key
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.key is not None:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        return self.session.request(method, self.base_url + path, headers=headers, timeout=15, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)
