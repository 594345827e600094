"""Image ingestion: sniffing format and size from magic bytes, and downloading every source URL
of a listing the way Carzle does (parallel, size- and redirect-capped, each hop re-checked so a
public URL cannot lead into the private network).

``_ImagesMixin`` is one part of :class:`~sandbox.carzle.sandbox.CarzleSandbox`; it uses the
host's ``settings``, ``_lock``, ``_image_fetches`` and ``_stats_for``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests

from sandbox.carzle.reference import CDN_BASE, MAX_MEGAPIXELS
from sandbox.common import SandboxSettings

if TYPE_CHECKING:
    from sandbox.carzle.records import KeyStats


def image_info(data: bytes) -> tuple[str | None, int | None, int | None]:
    """(format, width, height) from magic bytes; dimensions ``None`` when not cheaply known."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) >= 24 and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return "png", w, h
        return "png", None, None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if len(data) >= 10:
            w, h = struct.unpack("<HH", data[6:10])
            return "gif", w, h
        return "gif", None, None
    if data[:3] == b"\xff\xd8\xff":
        return ("jpeg", *_jpeg_size(data))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ("webp", *_webp_size(data))
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
        return "heif", None, None
    return None, None, None


def _jpeg_size(data: bytes) -> tuple[int | None, int | None]:
    sof = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (seglen,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in sof and i + 9 <= len(data):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + seglen
    return None, None


def _webp_size(data: bytes) -> tuple[int | None, int | None]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None, None


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # e.g. "http://[::1" or a non-numeric port
        return False


def _unfetched_image(url: str) -> dict[str, Any]:
    # Without bytes, hash the source URL so the CDN URL is still stable per source.
    digest = hashlib.sha256(url.encode()).hexdigest()
    return {"url": f"{CDN_BASE}/{digest}.webp", "sourceUrl": url, "sha256": digest}


class _ImagesMixin:
    """Source-URL policy (HTTPS, no private hosts), fetching with counters, and ingestion."""

    settings: SandboxSettings
    _lock: threading.RLock
    _image_fetches: Counter[str]
    _stats_for: Callable[[str], KeyStats]

    def _source_problem(self, url: str) -> str | None:
        s = self.settings
        if not _is_http_url(url):  # a redirect may point anywhere
            return "Source URL rejected: must be an absolute http(s) URL"
        parts = urlsplit(url)
        if s.require_https_images and parts.scheme != "https":
            return "Source URL rejected: HTTPS is required"
        if s.allow_private_image_hosts:
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, ValueError, UnicodeError):
            return "Source download failed: DNS lookup failed"
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            if not ip.is_global or ip.is_multicast:
                return "Source URL rejected: host resolves to a private or reserved address"
        return None

    def _count_fetch(self, url: str, stats_key: str) -> None:
        with self._lock:
            self._image_fetches[url] += 1
            self._stats_for(stats_key).image_fetches += 1

    def _fetch_one(self, url: str, stats_key: str) -> tuple[bytes | None, str | None]:
        s = self.settings
        current = url
        # Every hop is re-checked so a public URL cannot redirect into the private network.
        for _ in range(s.max_redirects + 1):
            problem = self._source_problem(current)
            if problem:
                return None, problem
            self._count_fetch(current, stats_key)
            session = requests.Session()
            session.trust_env = False  # proxies from the environment must not reroute fetches
            try:
                with session.get(
                    current,
                    timeout=(s.image_timeout_seconds, s.image_timeout_seconds),
                    stream=True,
                    allow_redirects=False,
                    headers={"User-Agent": "CarzleImageIngest/1.0 (sandbox)"},
                ) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("Location")
                        if not location:
                            return (None, f"Source download failed: HTTP {resp.status_code} without Location")
                        current = urljoin(current, location)
                        continue
                    if resp.status_code != 200:
                        return None, f"Source download failed: HTTP {resp.status_code}"
                    buf = bytearray()
                    for chunk in resp.iter_content(64 * 1024):
                        buf += chunk
                        if len(buf) > s.image_max_bytes:
                            return (None, f"Source download failed: larger than {s.image_max_bytes} bytes")
                    return bytes(buf), None
            except requests.Timeout:
                return None, "Source download failed: timed out"
            except requests.RequestException as exc:
                return None, f"Source download failed: {type(exc).__name__}"
            except (ValueError, UnicodeError, OSError) as exc:
                # Odd URLs can fail inside urllib3 before it raises its own error types.
                return None, f"Source download failed: {type(exc).__name__}"
            finally:
                session.close()
        return None, "Source download failed: too many redirects"

    def _ingest_one(self, url: str, stats_key: str) -> tuple[dict[str, Any] | None, str | None]:
        if not self.settings.fetch_images:
            return _unfetched_image(url), None
        data, problem = self._fetch_one(url, stats_key)
        if problem:
            return None, problem
        assert data is not None
        fmt, width, height = image_info(data)
        if self.settings.verify_image_format and fmt is None:
            return (None, "Source is not a supported image (JPEG, PNG, GIF, WebP, AVIF/HEIC)")
        if width and height and width * height > MAX_MEGAPIXELS:
            return None, f"Image is {width}x{height}, above the 40 megapixel limit"
        digest = hashlib.sha256(data).hexdigest()
        return {
            "url": f"{CDN_BASE}/{digest}.webp",
            "sourceUrl": url,
            "sha256": digest,
            "bytes": len(data),
            "sourceFormat": fmt,
            "width": width,
            "height": height,
        }, None

    def _ingest(
        self, entries: list[tuple[int, str, bool]], stats_key: str
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Fetch every entry (in parallel); return (images in order, per-index errors)."""
        if not entries:
            return [], {}
        workers = min(8, len(entries))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="carzle-img") as pool:
            results = list(pool.map(lambda e: self._ingest_one(e[1], stats_key), entries))
        images: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        for (index, _url, hero), (image, problem) in zip(entries, results, strict=True):
            if problem:
                errors[f"imageUrls.{index}"] = problem
            else:
                assert image is not None
                image["isHero"] = hero
                images.append(image)
        if images and not any(img["isHero"] for img in images):
            images[0]["isHero"] = True  # the first photo leads when the dealer picks none
        return images, errors
