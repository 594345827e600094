"""Fixtures for the marketplace sandbox tests.

One sandbox server (werkzeug, threaded, ephemeral loopback port) and one local image server
serve the whole session; every test starts from baseline settings and empty state, so tests
stay independent without paying for a server per test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest
from werkzeug.serving import make_server

from sandbox.app import create_sandbox_app, get_registry
from tests.sandbox.harness import (
    KEYS,
    Api,
    ImageServer,
    SandboxServer,
    baseline_settings,
    image_handler,
    jpeg_bytes,
    png_bytes,
)


@pytest.fixture(scope="session")
def image_server() -> Iterator[ImageServer]:
    files = {
        "/img/a.jpg": ("image/jpeg", jpeg_bytes(tint=1)),
        "/img/b.jpg": ("image/jpeg", jpeg_bytes(tint=2)),
        "/img/c.png": ("image/png", png_bytes(tint=3)),
        "/img/huge.png": ("image/png", png_bytes(8000, 6000, header_only=True)),  # 48 MP
        "/img/text.jpg": ("text/html", b"<html>not an image</html>"),
    }
    state = ImageServer(base_url="", files=files)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), image_handler(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    app = create_sandbox_app(baseline_settings())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = f"http://127.0.0.1:{server.server_port}"
    registry = get_registry(app)
    yield SandboxServer(root, f"{root}/carzle/api/v1", registry, registry.carzle)
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, image_server: ImageServer) -> SandboxServer:
    """The shared server, reset to baseline settings and empty state for this test."""
    baseline = baseline_settings().to_dict()
    for static in ("carzle_keys", "carslink_keys", "auterio_keys"):
        baseline.pop(static)
    sandbox_server.registry.update_config(baseline)
    sandbox_server.registry.reset()
    image_server.hits.clear()
    return sandbox_server


@pytest.fixture
def api(sandbox: SandboxServer) -> Callable[..., Api]:
    """``api()`` → full-scope alpha client; ``api("ro")`` / ``api(None)`` / ``api(raw=...)``."""

    def factory(who: str | None = "full", *, raw: str | None = None) -> Api:
        key = raw if raw is not None else (KEYS[who] if who is not None else None)
        return Api(sandbox.carzle_url, key)

    return factory


@pytest.fixture
def control(sandbox: SandboxServer) -> Api:
    """Client for the unauthenticated ``/_sandbox`` control API."""
    return Api(sandbox.root + "/_sandbox", None)
