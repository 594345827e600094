"""Fetch a photo URL supplied by a dealer without letting it reach anything private (SSRF).

Every hop (the first request and each redirect) goes through the same steps:

* the URL is checked: http(s) only, a host, no user:password, no control characters;
* the host is resolved **once**, every address it resolves to is checked, and the connection is
  made to the checked address (``PinnedAddressAdapter``), while TLS SNI, certificate verification
  and the ``Host`` header keep the hostname. There is no second DNS lookup for a rebinding
  server to answer differently;
* redirects are followed by hand (at most ``max_redirects``), so each ``Location`` is checked
  like the original URL;
* connect/read timeouts per socket operation and one overall deadline for the whole fetch
  (reads use ``read1`` so a server dripping one byte at a time cannot outlive the deadline);
* the body is capped while streaming (decompressed size when the server insists on gzip) and
  its type is decided from the first bytes, so an HTML error page is refused after one chunk.

Why not ``requests_hardened.IPFilterAdapter`` directly: its pinning technique is the one used
here (resolved IP in the pool key, hostname as ``server_hostname``/``assert_hostname`` and
``Host``), but its filter is ``is_private``/multicast plus a short list on Python 3.11, so it lets
through e.g. site-local ``fec0::/10`` and IPv4-compatible ``::127.0.0.1``; it only offers a
blanket "allow loopback" switch where we need a per-host allowlist; and its DNS lookup has no
timeout. The adapter below is the same idea with ``address_refusal`` as the filter.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util.connection import allowed_gai_family

from app.media.normalise import describe_non_image, sniff

log = logging.getLogger("forecourt.media")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]

MAX_URL_LENGTH = 2048
USER_AGENT = "Forecourt-Media/1.0 (+photo ingestion for listing sync)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 256 * 1024


class FetchError(Exception):
    """The photo could not be downloaded. ``retryable`` says whether trying later may help."""

    def __init__(self, code: str, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 3.05
    read_timeout: float = 20.0
    deadline: float = 60.0  # the whole fetch, redirects and body included
    max_bytes: int = 50 * 1024 * 1024  # a 40 MP JPEG is ~10-25 MB; PNG photos run larger
    max_redirects: int = 3
    dns_timeout: float = 5.0


@dataclass(frozen=True)
class FetchResult:
    url: str  # the final URL, after redirects
    status: int  # 200, or 304 when the conditional request matched
    content: bytes  # empty on 304
    kind: str | None  # from the bytes: "jpeg", "png", "webp", "gif", ... (None on 304)
    etag: str | None
    last_modified: str | None
    content_type: str | None  # as the server declared it; informative only
    sha256: str | None = None  # of ``content``, hashed while it arrived

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# --------------------------------------------------------------------------- address policy

_IPV4_EXTRA = (
    (ipaddress.ip_network("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (ipaddress.ip_network("192.0.0.0/24"), "IETF-reserved"),
    (ipaddress.ip_network("192.88.99.0/24"), "6to4 relay"),
    (ipaddress.ip_network("198.18.0.0/15"), "benchmarking"),
)
_IPV6_EXTRA = (
    (ipaddress.ip_network("fc00::/7"), "unique local (ULA)"),
    (ipaddress.ip_network("fec0::/10"), "site-local"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "local-use NAT64"),
    (ipaddress.ip_network("2001::/23"), "IETF-reserved (Teredo, ORCHID...)"),
    (ipaddress.ip_network("2001:db8::/32"), "documentation"),
    (ipaddress.ip_network("3fff::/20"), "documentation"),
    (ipaddress.ip_network("5f00::/16"), "segment-routing"),
    (ipaddress.ip_network("::/96"), "IPv4-compatible"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 form really reaches, for the forms that carry one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched from, or ``None`` when it is publicly routable.

    ``is_global`` alone is not enough on Python 3.11: it calls multicast, site-local ``fec0::/10``,
    ``192.0.0.0/24`` and NAT64/6to4 wrappings of 127.0.0.1 "global". The embedded-IPv4 forms are
    judged by the IPv4 address they carry, so NAT64 to a public host still works on IPv6-only
    networks while ``64:ff9b::7f00:1`` does not.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "scoped IPv6"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner, form = embedded
            reason = address_refusal(inner)
            return f"{form} form of a {reason} address" if reason else None
    for attr, reason in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local (cloud metadata)"),
        ("is_multicast", "multicast"),
    ):
        if getattr(ip, attr):
            return reason
    for net, reason in _IPV4_EXTRA if ip.version == 4 else _IPV6_EXTRA:
        if ip in net:
            return reason
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _hard_refusal(ip: IPAddress) -> str | None:
    """Refused even for allowlisted hosts: nothing legitimate serves photos from these."""
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
        ip = embedded[0]
    if ip.is_unspecified or ip.is_multicast or ip.is_link_local or ip == ipaddress.IPv4Address("255.255.255.255"):
        return address_refusal(ip)
    return None


def _parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class AllowList:
    """Hosts named by ``MEDIA_ALLOW_PRIVATE_HOSTS`` may resolve to private addresses.

    Entries match the URL's host exactly (a hostname, case-insensitively, or an IP literal); an
    IP entry does not bless other names that resolve to it, nor other spellings of it such as
    ``[::ffff:127.0.0.1]`` for ``127.0.0.1``, so the allowlist cannot be reached by indirection.
    """

    def __init__(self, entries: Iterable[str] = ()) -> None:
        names: set[str] = set()
        ips: set[IPAddress] = set()
        for entry in entries:
            entry = entry.strip().lower().rstrip(".")
            ip = _parse_ip(entry) if entry else None
            if ip is not None:
                ips.add(ip)
            elif entry:
                names.add(entry)
        self.names: frozenset[str] = frozenset(names)
        self.ips: frozenset[IPAddress] = frozenset(ips)

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        ip = _parse_ip(host)
        if ip is not None:
            return ip in self.ips and str(ip) == host.strip("[]")
        return host in self.names

    def __bool__(self) -> bool:
        return bool(self.names or self.ips)


_dns_pool: tuple[int, ThreadPoolExecutor] | None = None


def _dns_executor() -> ThreadPoolExecutor:
    # One pool per process: RQ forks a work horse per job, and a pool inherited across fork
    # believes it still has its (now nonexistent) threads, so lookups would never run.
    global _dns_pool
    pid = os.getpid()
    if _dns_pool is None or _dns_pool[0] != pid:
        _dns_pool = (pid, ThreadPoolExecutor(max_workers=4, thread_name_prefix="media-dns"))
    return _dns_pool[1]


def system_resolver(timeout: float) -> Resolver:
    """getaddrinfo with a timeout (it has none of its own; a stuck lookup would hold the job)."""

    def resolve(host: str, port: int) -> list[IPAddress]:
        # allowed_gai_family: IPv4 only when this host has no IPv6 stack, as urllib3 itself does.
        future = _dns_executor().submit(socket.getaddrinfo, host, port, allowed_gai_family(), socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=timeout)
        except FutureTimeout:
            raise FetchError("dns", f"looking up {host} timed out", retryable=True) from None
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError("dns", f"could not resolve the photo's host {host} ({exc})", retryable=True) from None
        out: list[IPAddress] = []
        for family, _type, _proto, _name, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
                if ip not in out:
                    out.append(ip)
        # Only the first answer is connected to (pinning has no fallback), so prefer IPv4: a
        # dual-stack name on a box without IPv6 routing would otherwise fail every time.
        return sorted(out, key=lambda ip: ip.version)

    return resolve


class AddressGuard:
    """Resolves a host once and returns the one address that may be connected to."""

    def __init__(self, allow: AllowList, resolver: Resolver) -> None:
        self.allow = allow
        self.resolver = resolver

    def pick(self, host: str, port: int) -> IPAddress:
        literal = _parse_ip(host)
        addresses = [literal] if literal is not None else self.resolver(host, port)
        if not addresses:
            raise FetchError("dns", f"the photo's host {host} has no address", retryable=True)
        allowed = self.allow.allows(host)
        # Every answer is checked, not just the one used: a name that mixes public and private
        # answers is an attack or a misconfiguration either way.
        for ip in addresses:
            reason = _hard_refusal(ip) if allowed else address_refusal(ip)
            if reason:
                shown = host if literal is not None else f"{host} ({ip})"
                log.warning("refused photo address", extra={"host": host, "ip": str(ip), "reason": reason})
                raise FetchError("forbidden_address", f"refused to fetch from {shown}: the address is {reason}")
        return addresses[0]


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address ``guard`` checked; keeps the hostname for TLS and ``Host``."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        super().__init__(max_retries=0, **kwargs)
        self.guard = guard

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[override]
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        hostname = host_params["host"]
        scheme = host_params["scheme"]
        port = host_params["port"] or (443 if scheme == "https" else 80)
        ip = self.guard.pick(hostname, port)

        # Copied first: a caller's headers mapping may be shared between requests.
        request.headers = CaseInsensitiveDict(request.headers or {})
        host_header = f"[{hostname}]" if ":" in hostname else hostname
        if host_params["port"] is not None:
            host_header += f":{host_params['port']}"
        request.headers["Host"] = host_header
        if scheme == "https":
            # Verify the certificate against the name, not the pinned IP, and send SNI for it.
            pool_kwargs["assert_hostname"] = hostname
            pool_kwargs["server_hostname"] = hostname
        # The pool key now holds the IP: the connection is opened to exactly this address.
        host_params["host"] = f"[{ip}]" if ip.version == 6 else str(ip)
        host_params["port"] = port
        return host_params, pool_kwargs

    def get_connection(self, url, proxies=None):  # pragma: no cover - requests < 2.32.2 only
        raise NotImplementedError("PinnedAddressAdapter needs requests >= 2.32.2")


# --------------------------------------------------------------------------- fetching


class _ManualRedirectSession(requests.Session):
    def resolve_redirects(self, resp, req, **kwargs):  # type: ignore[override]
        # Redirects are followed (and checked) by ``Fetcher.fetch``. Even with
        # allow_redirects=False, requests would call this to precompute ``response.next`` and
        # read the redirect's whole body first: unbounded, and outside the deadline.
        return iter(())


def check_url(url: str) -> None:
    """Refuse URLs we will not even try: wrong scheme, credentials, no host, odd characters."""
    # Spaces are allowed (requests percent-encodes them; dealer file names have them).
    if not isinstance(url, str) or not url.strip():
        raise FetchError("bad_url", "the photo URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise FetchError("bad_url", f"the photo URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise FetchError("bad_url", "the photo URL contains control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed "[" in an IPv6 host
        raise FetchError("bad_url", f"the photo URL is malformed ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError("bad_url", f"only http and https photo URLs are supported, not {parts.scheme or 'none'!r}")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise FetchError("bad_url", "photo URLs must not contain a username or password")
    if not parts.hostname:
        raise FetchError("bad_url", "the photo URL has no host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise FetchError("bad_url", "the photo URL has an invalid port") from None


def _header(value: str | None, limit: int) -> str | None:
    # Validators longer than a column are useless to store; drop rather than truncate them.
    if value is None or len(value) > limit:
        return None
    return value


class Fetcher:
    """Downloads photos under ``limits``; one pooled session per instance."""

    def __init__(
        self,
        *,
        allow_private_hosts: Iterable[str] = (),
        limits: FetchLimits | None = None,
        resolver: Resolver | None = None,
        verify: bool | str = True,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.allow = AllowList(allow_private_hosts)
        guard = AddressGuard(self.allow, resolver or system_resolver(self.limits.dns_timeout))
        session = _ManualRedirectSession()
        session.trust_env = False  # no HTTP(S)_PROXY / NO_PROXY / .netrc from the environment
        session.proxies.clear()
        session.verify = verify
        session.headers.update({
            "User-Agent": USER_AGENT,
            "Accept": "image/webp,image/png,image/jpeg;q=0.9,*/*;q=0.1",
            # Compressed photos do not shrink further; asking for identity avoids decompression bombs.
            "Accept-Encoding": "identity",
        })
        adapter = PinnedAddressAdapter(guard, pool_connections=8, pool_maxsize=8)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.session = session

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> Fetcher:
        limits = FetchLimits(
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
        )
        return cls(allow_private_hosts=settings.media_allow_private_hosts, limits=limits, **overrides)

    def close(self) -> None:
        self.session.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET ``url`` (conditionally when a validator is given) and return the verified body.

        Raises ``FetchError``; ``retryable`` is true for timeouts, connection failures, DNS
        failures, 408/425/429 and 5xx, false for everything a retry cannot fix.
        """
        limits = self.limits
        deadline = time.monotonic() + limits.deadline
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _hop in range(limits.max_redirects + 1):
            check_url(current)
            response = self._send(current, headers, deadline)
            try:
                status = response.status_code
                if status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError("http_status", f"HTTP {status} redirect without a Location", status=status)
                    current = urljoin(current, location.strip())
                    continue
                if status == 304 and headers:
                    return FetchResult(current, 304, b"", None, _header(response.headers.get("ETag"), 512) or etag,
                                       _header(response.headers.get("Last-Modified"), 64) or last_modified, None)
                if status != 200:
                    retryable = status in (408, 425, 429) or status >= 500
                    raise FetchError("http_status", f"the photo's server answered HTTP {status}",
                                     retryable=retryable, status=status)
                content, kind, digest = self._read_body(response, deadline)
                return FetchResult(
                    url=current,
                    status=200,
                    content=content,
                    kind=kind,
                    etag=_header(response.headers.get("ETag"), 512),
                    last_modified=_header(response.headers.get("Last-Modified"), 64),
                    content_type=response.headers.get("Content-Type"),
                    sha256=digest,
                )
            finally:
                response.close()
        raise FetchError("too_many_redirects", f"more than {limits.max_redirects} redirects")

    def _send(self, url: str, headers: dict[str, str], deadline: float) -> requests.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("timeout", f"gave up after {self.limits.deadline:g} s", retryable=True)
        timeout = (min(self.limits.connect_timeout, remaining), min(self.limits.read_timeout, remaining))
        try:
            return self.session.get(url, headers=headers, stream=True, allow_redirects=False, timeout=timeout)
        except FetchError:
            raise
        except requests.exceptions.SSLError as exc:
            raise FetchError("tls", f"TLS failed for the photo's server: {_short(exc)}") from None
        except requests.Timeout:
            raise FetchError("timeout", "the photo's server timed out", retryable=True) from None
        except requests.ConnectionError as exc:
            raise FetchError("connection", f"could not connect to the photo's server: {_short(exc)}",
                             retryable=True) from None
        except (requests.RequestException, ValueError) as exc:
            raise FetchError("bad_url", f"invalid photo URL: {_short(exc)}") from None

    def _read_body(self, response: requests.Response, deadline: float) -> tuple[bytes, str, str]:
        cap = self.limits.max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError("too_big", f"the photo is {int(declared) / 1e6:.1f} MB; the limit is {cap / 1e6:g} MB")
        raw = response.raw
        # BytesIO.getvalue() hands over its buffer without copying: one copy of the photo, not two.
        body = io.BytesIO()
        # Hashing chunk by chunk overlaps with the transfer (the next bytes arrive meanwhile).
        digest = hashlib.sha256()
        size = 0
        head = b""
        kind: str | None = None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FetchError("timeout", f"download took longer than {self.limits.deadline:g} s",
                                     retryable=True)
                _set_read_timeout(raw, min(self.limits.read_timeout, remaining))
                # read1: one socket read per call, so the deadline is checked between reads. With
                # decode_content, urllib3 caps each call's *decompressed* output at the amount asked.
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise FetchError("too_big", f"the photo is larger than {cap / 1e6:g} MB")
                body.write(chunk)
                digest.update(chunk)
                if kind is None:
                    head += chunk[: 512 - len(head)]
                    if len(head) >= 32:
                        kind = self._check_kind(head, response)
        except urllib3.exceptions.ReadTimeoutError:
            raise FetchError("timeout", "the photo's server stopped sending", retryable=True) from None
        except urllib3.exceptions.DecodeError:
            raise FetchError("not_an_image", "the photo's server sent a corrupt compressed body") from None
        except (urllib3.exceptions.ProtocolError, OSError) as exc:
            raise FetchError("connection", f"the download was cut off: {_short(exc)}", retryable=True) from None
        if kind is None:
            kind = self._check_kind(head, response)
        return body.getvalue(), kind, digest.hexdigest()

    @staticmethod
    def _check_kind(head: bytes, response: requests.Response) -> str:
        kind = sniff(head)
        if kind is None or ":" in kind:
            raise FetchError("not_an_image", describe_non_image(kind, response.headers.get("Content-Type")))
        return kind


def _set_read_timeout(raw: Any, seconds: float) -> None:
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
