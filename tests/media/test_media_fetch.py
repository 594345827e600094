"""SSRF-safe fetching over real HTTP on loopback: what is refused never reaches a socket."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from app.media.fetch import AllowList, Fetcher, FetchError, FetchLimits, address_refusal

ALLOW = ("127.0.0.1",)
AT = "@"  # kept apart so no tooling mistakes user:pass@host for an e-mail address


def fetcher(**limits) -> Fetcher:
    return Fetcher(allow_private_hosts=ALLOW, limits=FetchLimits(**limits) if limits else None)


def refused(url: str, f: Fetcher | None = None) -> FetchError:
    with pytest.raises(FetchError) as info:
        (f or fetcher()).fetch(url)
    return info.value


# --------------------------------------------------------------------------- the address policy


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),  # is_global says True on 3.11
        ("192.0.0.9", "IETF"),  # is_global says True on 3.11
        ("198.18.0.1", "benchmarking"),
        ("240.0.0.1", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fd00::1", "unique local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),  # is_global says True on 3.11
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv4-mapped form of a loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of a link-local"),
        ("64:ff9b::7f00:1", "NAT64 form of a loopback"),  # is_global says True on 3.11
        ("64:ff9b::a00:1", "NAT64 form of a private"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2002:7f00:1::", "6to4 form of a loopback"),  # is_global says True on 3.11
        ("2002:a9fe:a9fe::1", "6to4 form of a link-local"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("2001:db8::1", "documentation"),
        ("2001::1", "IETF-reserved"),
        # Public addresses, including public IPv4 behind the IPv6 wrappers, are fine.
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:93.184.216.34", None),
        ("64:ff9b::5db8:d822", None),
        ("2002:5db8:d822::1", None),
    ],
)
def test_address_policy(address, reason):
    result = address_refusal(ipaddress.ip_address(address))
    if reason is None:
        assert result is None
    else:
        assert result is not None and reason in result


def test_allowlist_matches_the_literal_host_only():
    allow = AllowList(["127.0.0.1", "Images.Dealer.Internal.", " "])
    assert allow.allows("127.0.0.1")
    assert allow.allows("images.dealer.internal")
    assert not allow.allows("::ffff:127.0.0.1")
    assert not allow.allows("localhost")
    assert not allow.allows("127.0.0.2")
    assert not allow.allows("evil.images.dealer.internal")


# --------------------------------------------------------------------------- SSRF over HTTP

SSRF_URLS = [
    "http://[::ffff:127.0.0.1]:{port}/img/small.jpg",
    "http://[::1]:{port}/img/small.jpg",
    "http://localhost:{port}/img/small.jpg",  # a name that resolves to a private address
    "http://LOCALHOST:{port}/img/small.jpg",
    "http://127.0.0.2:{port}/img/small.jpg",
    "http://127.1:{port}/img/small.jpg",
    "http://2130706433:{port}/img/small.jpg",
    "http://0x7f000001:{port}/img/small.jpg",
    "http://0.0.0.0:{port}/img/small.jpg",
    "http://[::]:{port}/img/small.jpg",
    "http://[::127.0.0.1]:{port}/img/small.jpg",
    "http://[64:ff9b::7f00:1]:{port}/img/small.jpg",
    "http://[2002:7f00:1::]:{port}/img/small.jpg",
    "http://10.0.0.1/img/small.jpg",
    "http://192.168.0.1/img/small.jpg",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.64.0.1/img/small.jpg",
    "https://10.0.0.1/img/small.jpg",
    "http://[fe80::1%25eth0]/img/small.jpg",
]


@pytest.mark.parametrize("template", SSRF_URLS)
def test_private_addresses_are_refused_before_connecting(template, image_server, connect_log):
    started = time.monotonic()
    error = refused(template.format(port=image_server.port))
    assert error.code == "forbidden_address", error.message
    assert error.retryable is False
    assert "refused to fetch" in error.message
    assert image_server.total_hits() == 0
    assert connect_log == []  # not even a SYN: refused between resolving and connecting
    assert time.monotonic() - started < 1.0


def test_loopback_is_refused_without_the_allowlist(image_server, connect_log):
    error = refused(f"{image_server.url}/img/small.jpg", Fetcher())
    assert error.code == "forbidden_address"
    assert "loopback" in error.message
    assert image_server.total_hits() == 0 and connect_log == []


def test_the_allowlisted_host_is_fetched(image_server, connect_log):
    result = fetcher().fetch(f"{image_server.url}/img/small.jpg")
    assert result.status == 200 and result.kind == "jpeg"
    assert result.content == image_server.photos["small.jpg"]
    assert result.etag and result.last_modified
    assert image_server.hits["/img/small.jpg"] == 1
    assert connect_log == [("127.0.0.1", image_server.port)]  # the log does see real connections


def test_an_allowlisted_ipv6_literal_is_pinned_too(image_server_session):
    from werkzeug.serving import make_server

    try:
        server = make_server("::1", 0, image_server_session.wsgi, threaded=True)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        image_server_session.reset()
        result = Fetcher(allow_private_hosts=("::1",)).fetch(f"http://[::1]:{server.server_port}/img/small.jpg")
        assert result.status == 200
        assert image_server_session.requests[-1]["host"] == f"[::1]:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/img/small.jpg",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_GET",
        "javascript:alert(1)",
        "//127.0.0.1:{port}/img/small.jpg",
        "http://user:pass" + AT + "127.0.0.1:{port}/img/small.jpg",
        "http://admin" + AT + "127.0.0.1:{port}/img/small.jpg",
        "http://127.0.0.1:{port}\\@10.0.0.1/img/small.jpg",
        "http://127.0.0.1:99999/img/small.jpg",
        "http:///img/small.jpg",
        "http://[::1/img/small.jpg",
        "http://127.0.0.1:{port}/img/small.jpg\r\nX-Injected: 1",
        "",
        "http://127.0.0.1:{port}/" + "a" * 2100,
    ],
)
def test_unusable_urls_are_refused(url, image_server, connect_log):
    error = refused(url.format(port=image_server.port))
    assert error.code == "bad_url", error.message
    assert image_server.total_hits() == 0 and connect_log == []


@pytest.mark.parametrize(
    "target, code",
    [
        ("http://[::ffff:127.0.0.1]:{port}/img/small.jpg", "forbidden_address"),
        ("http://localhost:{port}/img/small.jpg", "forbidden_address"),
        ("http://169.254.169.254/latest/meta-data/", "forbidden_address"),
        ("http://10.0.0.1/img/small.jpg", "forbidden_address"),
        ("file:///etc/passwd", "bad_url"),
        ("http://user:pw@127.0.0.1:{port}/img/small.jpg", "bad_url"),
    ],
)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_every_redirect_hop_is_checked(target, code, status, image_server):
    from urllib.parse import quote

    to = quote(target.format(port=image_server.port), safe="")
    error = refused(f"{image_server.url}/redirect?code={status}&to={to}")
    assert error.code == code
    assert image_server.hits["/redirect"] == 1
    assert image_server.hits["/img/small.jpg"] == 0  # the private target never saw a request


def test_relative_redirects_within_the_allowed_host_work(image_server):
    result = fetcher().fetch(f"{image_server.url}/redirect?to=/img/small.jpg")
    assert result.status == 200 and result.url.endswith("/img/small.jpg")


def test_at_most_three_redirects(image_server):
    assert fetcher().fetch(f"{image_server.url}/chain/3").status == 200
    image_server.reset()
    error = refused(f"{image_server.url}/chain/4")
    assert error.code == "too_many_redirects"
    assert image_server.hits["/img/small.jpg"] == 0


def test_a_name_with_any_private_answer_is_refused(image_server, connect_log):
    calls = []

    def resolver(host, port):
        calls.append(host)
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]

    f = Fetcher(allow_private_hosts=ALLOW, resolver=resolver)
    error = refused(f"http://photos.dealer.example:{image_server.port}/img/small.jpg", f)
    assert error.code == "forbidden_address" and "10.0.0.7" in error.message
    assert calls == ["photos.dealer.example"] and connect_log == []


def test_allowlisted_names_still_cannot_reach_cloud_metadata(connect_log):
    f = Fetcher(allow_private_hosts=("images.internal",),
                resolver=lambda host, port: [ipaddress.ip_address("169.254.169.254")])
    error = refused("http://images.internal/latest/meta-data/", f)
    assert error.code == "forbidden_address" and "link-local" in error.message
    assert connect_log == []


# --------------------------------------------------------------------------- limits and content


@pytest.mark.parametrize(
    "path, code",
    [
        ("/big?bytes=5000000&declare=1", "too_big"),  # refused from Content-Length
        ("/big?bytes=5000000", "too_big"),  # chunked: refused while streaming
        ("/gzip-bomb?bytes=20000000", "too_big"),  # 20 KB on the wire, 20 MB decoded
    ],
)
def test_byte_cap(path, code, image_server):
    started = time.monotonic()
    error = refused(image_server.url + path, fetcher(max_bytes=1_000_000))
    assert error.code == code and error.retryable is False
    assert time.monotonic() - started < 3


def test_overall_deadline_beats_a_dripping_server(image_server):
    started = time.monotonic()
    error = refused(f"{image_server.url}/drip?every=0.2", fetcher(deadline=1.0, read_timeout=5.0))
    elapsed = time.monotonic() - started
    assert error.code == "timeout" and error.retryable is True
    assert 0.9 < elapsed < 1.6


@pytest.mark.parametrize(
    "status, retryable",
    [(404, False), (410, False), (403, False), (401, False), (500, True), (503, True), (429, True), (408, True)],
)
def test_http_errors(status, retryable, image_server):
    error = refused(f"{image_server.url}/status/{status}")
    assert (error.code, error.status, error.retryable) == ("http_status", status, retryable)
    assert f"HTTP {status}" in error.message


@pytest.mark.parametrize(
    "name, words",
    [("not-a-photo.jpg", "not JPEG, PNG or WebP (served as image/jpeg)"), ("error-page.jpg", "HTML page")],
)
def test_type_comes_from_the_bytes_not_the_header(name, words, image_server):
    error = refused(f"{image_server.url}/img/{name}")
    assert error.code == "not_an_image" and words in error.message


def test_connection_refused_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = refused(f"http://127.0.0.1:{port}/img/small.jpg")
    assert error.code == "connection" and error.retryable is True


def test_conditional_requests(image_server):
    f = fetcher()
    first = f.fetch(f"{image_server.url}/img/small.jpg")
    again = f.fetch(f"{image_server.url}/img/small.jpg", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.content == b"" and again.etag == first.etag
    by_date = f.fetch(f"{image_server.url}/img/small.jpg", last_modified=first.last_modified)
    assert by_date.not_modified
    seen = image_server.requests
    assert seen[1]["if_none_match"] == first.etag and seen[1]["if_modified_since"] == first.last_modified
    assert seen[2]["if_modified_since"] == first.last_modified


def test_environment_proxies_are_ignored(image_server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("http_proxy", "http://10.9.9.9:3128")
    monkeypatch.setenv("NO_PROXY", "")
    assert fetcher().fetch(f"{image_server.url}/img/small.jpg").status == 200


# --------------------------------------------------------------------------- TLS with a pinned address


def _certificate(tmp: Path, hostname: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_connects_to_the_checked_address_and_verifies_the_name(tmp_path, image_server_session):
    from werkzeug.serving import make_server

    host = "photos.dealer.test"
    cert, key = _certificate(tmp_path, host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    server = make_server("127.0.0.1", 0, image_server_session.wsgi, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_port
        lookups: list[str] = []

        def resolver(name, _port):
            lookups.append(name)
            return [ipaddress.ip_address("127.0.0.1")]

        image_server_session.reset()
        f = Fetcher(allow_private_hosts=(host, "127.0.0.1"), resolver=resolver, verify=str(cert))
        result = f.fetch(f"https://{host}:{port}/img/small.jpg")
        assert result.status == 200 and result.kind == "jpeg"
        assert lookups == [host]  # resolved exactly once
        assert sni == [host]  # SNI carries the name although the socket went to 127.0.0.1
        assert image_server_session.requests[-1]["host"] == f"{host}:{port}"

        # The same server by IP: the certificate names the host, so verification must fail.
        error = refused(f"https://127.0.0.1:{port}/img/small.jpg", f)
        assert error.code == "tls"
    finally:
        server.shutdown()
        thread.join(timeout=5)
