"""Fixtures for the media tests: generated photos, a loopback image server, and a connect log.

Photos are generated with Pillow once per session (the 12 MP one takes about a second). The
image server is real HTTP on 127.0.0.1 and counts every request per path, so SSRF tests can prove
that a refused URL never reached it. ``MEDIA_ALLOW_PRIVATE_HOSTS`` is ``127.0.0.1`` for the app:
only that literal host is trusted, every other spelling or name for loopback must be refused.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageCms, ImageDraw

from tests.conftest import ServerThread, make_settings

# --------------------------------------------------------------------------- photos

TWELVE_MP = (4000, 3000)
SRGB_SAMPLE = (200, 80, 60)  # a colour inside both gamuts, far enough from grey to shift visibly


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def display_p3_icc() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Display P3 primaries (D50) and the sRGB curve."""

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)

    text = b"Display P3 (test)"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(text) + 1) + text + b"\0"
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67)
    # parametricCurveType 3 = the sRGB transfer function.
    trc = b"para" + b"\0" * 4 + struct.pack(">HH", 3, 0) + b"".join(
        _s15(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    )
    tags = [
        (b"desc", desc),
        (b"cprt", b"text" + b"\0" * 4 + b"public domain\0"),
        (b"wtpt", xyz(0.964203, 1.0, 0.824905)),
        (b"rXYZ", xyz(0.515102, 0.241182, -0.001050)),
        (b"gXYZ", xyz(0.291965, 0.692236, 0.041882)),
        (b"bXYZ", xyz(0.157153, 0.066582, 0.784378)),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        while (offset + len(data)) % 4:
            data += b"\0"
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    body = struct.pack(">I", len(tags)) + table + data
    size = 128 + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"APPL" + b"\0" * 24
              + struct.pack(">I", 0) + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"lcms")
    header += b"\0" * (128 - len(header))
    return header + body


def _jpeg(img: Image.Image, **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", **params)
    return out.getvalue()


def _png(img: Image.Image, **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", **params)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A ~70-byte PNG whose IHDR declares width x height (a decompression-bomb shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG with its SOF dimensions rewritten: huge on paper, tiny on the wire."""
    data = bytearray(_jpeg(Image.new("RGB", (16, 16), "gray"), quality=80))
    i = 2
    while i < len(data):
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC2):
            data[i + 5 : i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


def twelve_mp_rotated() -> bytes:
    """A 12 MP camera-like JPEG stored landscape with EXIF orientation 6 (display portrait),
    GPS tags and XMP. The stored top-left quarter is red, so it must end up top-right."""
    base = Image.linear_gradient("L").resize(TWELVE_MP)
    noise = Image.effect_noise(TWELVE_MP, 12)
    img = Image.merge("RGB", (Image.blend(base, noise, 0.3), noise, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    ImageDraw.Draw(img).rectangle((0, 0, TWELVE_MP[0] // 4, TWELVE_MP[1] // 4), fill=(230, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R6"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (25.0, 11.0, 52.2), 3: "E", 4: (55.0, 16.0, 26.4)})  # Dubai
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description exif:GPSLatitude="25,11.87N"/></rdf:RDF></x:xmpmeta>')
    return _jpeg(img, quality=88, exif=exif, xmp=xmp)


def _frames(mode: str, colours: list[str], size=(64, 48)) -> list[Image.Image]:
    return [Image.new(mode, size, colour) for colour in colours]


def _animated(fmt: str, mode: str) -> bytes:
    frames = _frames(mode, ["red", "green", "blue"])
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def build_photos() -> dict[str, bytes]:
    p3 = display_p3_icc()
    srgb_to_p3 = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(p3)),
                                         "RGB", "RGB")
    p3_img = ImageCms.applyTransform(Image.new("RGB", (640, 480), SRGB_SAMPLE), srgb_to_p3)

    rgba = Image.new("RGBA", (800, 600), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((400, 0, 799, 599), fill=(10, 160, 40, 255))
    ImageDraw.Draw(rgba).rectangle((0, 500, 799, 599), fill=(0, 0, 255, 128))

    palette = Image.new("P", (300, 200), 0)
    palette.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
    ImageDraw.Draw(palette).rectangle((150, 0, 299, 199), fill=1)

    progressive = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    baseline = _jpeg(Image.effect_noise((1200, 900), 40).convert("RGB"), quality=90)

    mpo = io.BytesIO()
    first, second = Image.new("RGB", (640, 480), (20, 120, 220)), Image.new("RGB", (160, 120), "black")
    first.save(mpo, "MPO", save_all=True, append_images=[second])

    grey16 = Image.frombytes("I;16", (320, 240), struct.pack("<H", 40000) * (320 * 240))

    webp = io.BytesIO()
    Image.new("RGB", (1024, 768), (90, 90, 200)).save(webp, "WEBP", quality=90)
    gif = io.BytesIO()
    Image.new("P", (64, 64), 3).save(gif, "GIF")
    return {
        "rotated-12mp.jpg": twelve_mp_rotated(),
        "progressive.jpg": _jpeg(progressive, quality=85, progressive=True,
                                 icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()),
        "cmyk.jpg": _jpeg(Image.new("CMYK", (1200, 800), (0, 255, 255, 0)), quality=90),
        "alpha.png": _png(rgba),
        "palette.png": _png(palette, transparency=0),
        "grey16.png": _png(grey16),
        "display-p3.png": _png(p3_img, icc_profile=p3),
        "display-p3.jpg": _jpeg(p3_img, quality=95, icc_profile=p3),
        "camera.mpo": mpo.getvalue(),
        "photo.webp": webp.getvalue(),
        "truncated.jpg": baseline[: len(baseline) * 6 // 10],
        "bomb-900mp.png": png_header_only(30_000, 30_000),
        "over-40mp.jpg": jpeg_declaring(8000, 5100),
        "animated.webp": _animated("WEBP", "RGB"),
        "animated.png": _animated("PNG", "RGB"),
        "animated.gif": _animated("GIF", "P"),
        "still.gif": gif.getvalue(),
        "iphone.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 200,
        "not-a-photo.jpg": b"This is a text file with a .jpg name; dealers upload these.\n" * 20,
        "error-page.jpg": b"<!DOCTYPE html><html><head><title>Not Found</title></head><body>404</body></html>",
        "small.jpg": _jpeg(Image.new("RGB", (640, 480), (240, 200, 20)), quality=85),
        "small-2.jpg": _jpeg(Image.new("RGB", (640, 480), (20, 200, 240)), quality=85),
    }


_PHOTOS: dict[str, bytes] | None = None


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    global _PHOTOS
    if _PHOTOS is None:
        _PHOTOS = build_photos()
    return _PHOTOS


# --------------------------------------------------------------------------- image server


class ImageServer:
    """A loopback HTTP server for photos, with validators, redirects, faults, and hit counts."""

    def __init__(self, photos: dict[str, bytes]) -> None:
        self.photos = dict(photos)
        self.etags: dict[str, str] = {}
        self.faults: dict[str, int] = {}  # photo name -> HTTP status to answer instead
        self.hits: Counter[str] = Counter()
        self.requests: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.last_modified = email.utils.formatdate(time.time() - 3600, usegmt=True)
        self.thread = ServerThread(self.wsgi)
        self.port = self.thread.port
        self.url = self.thread.url

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()
            self.requests.clear()
            self.etags.clear()
            self.faults.clear()

    def total_hits(self) -> int:
        return sum(self.hits.values())

    def put(self, name: str, data: bytes, etag: str | None = None) -> str:
        self.photos[name] = data
        if etag:
            self.etags[name] = etag
        return f"{self.url}/img/{name}"

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        from urllib.parse import parse_qs

        path = environ["PATH_INFO"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        with self.lock:
            self.hits[path] += 1
            self.requests.append({"path": path, "host": environ.get("HTTP_HOST", ""),
                                  "if_none_match": environ.get("HTTP_IF_NONE_MATCH", ""),
                                  "if_modified_since": environ.get("HTTP_IF_MODIFIED_SINCE", "")})
        parts = path.strip("/").split("/")
        head, rest = parts[0], "/".join(parts[1:])
        if head == "img" and rest in self.faults:
            start_response(f"{self.faults[rest]} Fault", [("Content-Type", "text/plain"), ("Content-Length", "5")])
            return [b"fault"]
        if head == "img" and rest in self.photos:
            return self._photo(rest, environ, start_response)
        if head == "redirect":
            start_response(f"{query.get('code', '302')} Redirect", [("Location", query["to"]), ("Content-Length", "0")])
            return [b""]
        if head == "chain":
            left = int(rest)
            target = f"/chain/{left - 1}" if left > 1 else "/img/small.jpg"
            start_response("302 Found", [("Location", target), ("Content-Length", "0")])
            return [b""]
        if head == "status":
            start_response(f"{rest} Status", [("Content-Type", "text/plain"), ("Content-Length", "4")])
            return [b"nope"]
        if head == "big":
            return self._big(int(query["bytes"]), query.get("declare") == "1", start_response)
        if head == "drip":
            return self._drip(float(query.get("every", "0.2")), start_response)
        if head == "gzip-bomb":
            body = gzip.compress(b"\xff\xd8\xff\xe0" + b"\0" * (int(query["bytes"]) - 4), compresslevel=9)
            start_response("200 OK", [("Content-Type", "image/jpeg"), ("Content-Encoding", "gzip"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]

    def _photo(self, name: str, environ: dict[str, Any], start_response: Any) -> Any:
        data = self.photos[name]
        etag = self.etags.get(name, f'"{zlib.crc32(data):08x}"')
        if environ.get("HTTP_IF_NONE_MATCH") == etag or (
            not environ.get("HTTP_IF_NONE_MATCH") and environ.get("HTTP_IF_MODIFIED_SINCE") == self.last_modified
        ):
            start_response("304 Not Modified", [("ETag", etag)])
            return [b""]
        start_response("200 OK", [("Content-Type", "image/jpeg"), ("Content-Length", str(len(data))),
                                  ("ETag", etag), ("Last-Modified", self.last_modified)])
        return [data]

    @staticmethod
    def _big(size: int, declare: bool, start_response: Any) -> Any:
        headers = [("Content-Type", "image/jpeg")]
        if declare:
            headers.append(("Content-Length", str(size)))
        start_response("200 OK", headers)

        def body() -> Iterator[bytes]:
            yield b"\xff\xd8\xff\xe0" + b"\0" * 65532
            sent = 65536
            block = b"\0" * 65536
            while sent < size:
                yield block
                sent += len(block)

        return body()

    @staticmethod
    def _drip(every: float, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "image/jpeg")])

        def body() -> Iterator[bytes]:
            yield b"\xff\xd8\xff\xe0" + b"\0" * 60
            for _ in range(200):
                time.sleep(every)
                yield b"\0"

        return body()


@pytest.fixture(scope="session")
def image_server_session(photos: dict[str, bytes]) -> Iterator[ImageServer]:
    server = ImageServer(photos)
    with server.thread:
        yield server


@pytest.fixture
def image_server(image_server_session: ImageServer, photos: dict[str, bytes]) -> ImageServer:
    image_server_session.reset()
    image_server_session.photos = dict(photos)
    return image_server_session


# --------------------------------------------------------------------------- app and guards

ALLOWED = ("127.0.0.1",)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str):
    """The suite's settings, trusting only the literal 127.0.0.1 for the image server."""
    return make_settings(tmp_path, database_url, redis_url, media_allow_private_hosts=ALLOWED)


@pytest.fixture
def connect_log(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address any socket in this process tried to connect to during the test."""
    seen: list[Any] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen
