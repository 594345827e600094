"""plan / ingest / resolve against the real database, store, and loopback image server."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.media import service
from app.media.models import MediaAsset
from app.media.service import RetryableImageError, ingest, plan, resolve
from app.timeutil import utcnow


@pytest.fixture
def encodes(monkeypatch):
    """Counts real normalisations (decode + re-encode) done by the service."""
    calls: list[int] = []
    original = service.normalise

    def counting(data, **kwargs):
        calls.append(len(data))
        return original(data, **kwargs)

    monkeypatch.setattr(service, "normalise", counting)
    return calls


def ingest_all(images) -> None:
    for url in plan(images):
        ingest(url)


def test_a_rotated_photo_a_404_and_a_private_address(app, client, image_server, connect_log):
    """The issue's "done when": one good rotated 12 MP photo, two bad ones reported, nothing private reached."""
    port = image_server.port
    images = [
        {"url": f"{image_server.url}/img/rotated-12mp.jpg", "id": "p1"},
        {"url": f"{image_server.url}/img/gone.jpg", "id": "p2"},
        {"url": f"http://[::ffff:127.0.0.1]:{port}/img/small.jpg", "id": "p3"},
        {"url": "http://169.254.169.254/latest/meta-data/iam/", "id": "p4"},
    ]
    ingest_all(images)
    good, bad = resolve(images)

    assert len(good) == 1 and good[0]["source"] == images[0]["url"] and good[0]["id"] == "p1"
    assert good[0]["url"].startswith("http://127.0.0.1:8000/media/") and good[0]["url"].endswith(".webp")
    assert [(b["id"], b["url"], b["position"]) for b in bad] == [(i["id"], i["url"], n) for n, i in
                                                                 enumerate(images[1:], start=2)]
    assert "HTTP 404" in bad[0]["error"]
    assert "refused" in bad[1]["error"] and "loopback" in bad[1]["error"]
    assert "refused" in bad[2]["error"] and "link-local" in bad[2]["error"]

    # Nothing reached a private address: the loopback server only saw the two allowed requests.
    assert dict(image_server.hits) == {"/img/rotated-12mp.jpg": 1, "/img/gone.jpg": 1}
    assert {address[0] for address in connect_log if isinstance(address, tuple)} <= {"127.0.0.1"}

    # Forecourt serves the normalised file: portrait, red corner top-right, no metadata.
    response = client.get(good[0]["url"].removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200 and response.mimetype == "image/webp"
    img = Image.open(io.BytesIO(response.data))
    assert img.size == (1920, 2560) and not img.getexif() and "icc_profile" not in img.info
    assert img.convert("RGB").getpixel((1900, 20))[0] > 200

    asset = db.session.scalar(select(MediaAsset).where(MediaAsset.source_url == images[0]["url"]))
    assert (asset.status, asset.width, asset.height, asset.recipe) == ("ok", 1920, 2560, "webp-q82-2560-v1")
    assert asset.etag and asset.last_modified and len(asset.source_sha256) == 64


def test_unchanged_photos_are_never_downloaded_or_encoded_again(app, image_server, encodes):
    url = f"{image_server.url}/img/small.jpg"
    first = ingest(url)
    assert first.status == "ok" and len(encodes) == 1
    fetched_at, etag, sha = first.fetched_at, first.etag, first.media_sha256

    # Fresh: no request at all, and plan() has nothing to do.
    assert ingest(url).media_sha256 == sha
    assert plan([{"url": url}]) == []
    assert image_server.hits["/img/small.jpg"] == 1

    # A day later: one conditional request, answered 304; nothing decoded, nothing re-sent.
    later = utcnow() + timedelta(hours=25)
    assert plan([{"url": url}], now=later) == [url]
    again = ingest(url, now=later)
    assert image_server.requests[-1]["if_none_match"] == etag
    assert again.status == "ok" and again.media_sha256 == sha
    assert len(encodes) == 1 and again.fetched_at == fetched_at
    assert plan([{"url": url}], now=later + timedelta(minutes=1)) == []


def test_new_validators_for_the_same_bytes_do_not_re_encode(app, image_server, encodes):
    url = f"{image_server.url}/img/small.jpg"
    before = ingest(url).media_sha256
    image_server.etags["small.jpg"] = '"rebuilt-cache-v2"'  # e.g. a CDN purge: new ETag, same file
    again = ingest(url, force=True)
    assert image_server.hits["/img/small.jpg"] == 2
    assert again.etag == '"rebuilt-cache-v2"' and again.media_sha256 == before
    assert len(encodes) == 1


def test_changed_photos_are_re_encoded(app, image_server, encodes):
    url = f"{image_server.url}/img/small.jpg"
    before = ingest(url).media_sha256
    image_server.put("small.jpg", image_server.photos["small-2.jpg"])
    again = ingest(url, force=True)
    assert len(encodes) == 2 and again.media_sha256 != before


def test_the_same_photo_under_two_urls_is_encoded_once(app, image_server, encodes):
    copy = image_server.put("copy-of-small.jpg", image_server.photos["small.jpg"])
    original = f"{image_server.url}/img/small.jpg"
    a, b = ingest(original), ingest(copy)
    assert a.media_sha256 == b.media_sha256 and len(encodes) == 1 and b.status == "ok"
    good, bad = resolve([original, copy])
    assert [g["source"] for g in good] == [original]
    assert bad == [{"url": copy, "error": f"the same photo as {original}", "position": 2}]


def test_transient_failures_raise_for_retry_then_are_recorded(app, image_server):
    url = f"{image_server.url}/status/503"
    with pytest.raises(RetryableImageError) as info:
        ingest(url, final=False)
    assert info.value.code == "http_status" and "HTTP 503" in info.value.message
    asset = db.session.scalar(select(MediaAsset).where(MediaAsset.source_url == url))
    assert asset.status == "error" and asset.error.endswith("retrying")

    last = ingest(url, final=True)
    assert last.status == "error" and last.error == "the photo's server answered HTTP 503"


def test_a_transient_failure_keeps_the_previous_good_version(app, image_server):
    url = f"{image_server.url}/img/small.jpg"
    first = ingest(url)
    sha = first.media_sha256
    image_server.faults["small.jpg"] = 500
    with pytest.raises(RetryableImageError):
        ingest(url, force=True, final=False)
    asset = db.session.scalar(select(MediaAsset).where(MediaAsset.source_url == url))
    assert (asset.status, asset.media_sha256, asset.error) == ("ok", sha, None)
    good, bad = resolve([url])
    assert len(good) == 1 and bad == []


@pytest.mark.parametrize(
    "path, code, words",
    [
        ("/img/gone.jpg", "http_status", "HTTP 404"),
        ("/img/not-a-photo.jpg", "not_an_image", "not an image"),
        ("/img/animated.webp", "animated", "animated images are not supported"),
        ("/img/bomb-900mp.png", "too_large", "900.0 megapixels"),
        ("/img/truncated.jpg", "corrupt", "truncated"),
        ("/status/403", "http_status", "HTTP 403"),
    ],
)
def test_permanent_failures_are_recorded_not_raised(path, code, words, app, image_server):
    asset = ingest(image_server.url + path)
    assert (asset.status, asset.error_code) == ("error", code)
    assert words in asset.error
    _, bad = resolve([image_server.url + path])
    assert bad[0]["error"] == asset.error


def test_plan_and_resolve_keep_order_put_the_hero_first_and_report_every_failure(app, image_server):
    base = image_server.url
    for name in ("a", "b", "c"):
        image_server.put(f"{name}.jpg", _solid((10 * ord(name) % 255, 100, 50)))
    images = [
        {"url": f"{base}/img/a.jpg", "id": 1},
        {"url": f"{base}/img/b.jpg", "id": 2, "isHero": True},
        {"url": "ftp://dealer.example/c.jpg", "id": 3},
        {"url": f"{base}/img/c.jpg", "id": 4},
        {"url": f"{base}/img/later.jpg", "id": 5},
        {"id": 6},
    ]
    assert plan(images) == [f"{base}/img/a.jpg", f"{base}/img/b.jpg", "ftp://dealer.example/c.jpg",
                            f"{base}/img/c.jpg", f"{base}/img/later.jpg"]
    for url in plan(images[:4]):
        ingest(url)
    assert plan(images) == [f"{base}/img/later.jpg"]  # the ftp failure waits for ERROR_RECHECK_AFTER

    good, bad = resolve(images)
    assert [g["id"] for g in good] == [2, 1, 4]
    assert [(b["id"], b["error"]) for b in bad] == [
        (3, "only http and https photo URLs are supported, not 'ftp'"),
        (5, "the photo has not been downloaded yet"),
        (6, "the photo has no URL"),
    ]


def test_too_long_urls_are_reported_without_a_row(app):
    asset = ingest("https://dealer.example/" + "x" * 3000)
    assert asset.status == "error" and "longer than" in asset.error and asset.id is None
    assert db.session.scalar(select(MediaAsset)) is None


def test_images_queue_jobs_ingest_and_retry(app, image_server):
    from rq import Queue

    from app.extensions import redis_store
    from tests.support.jobs import drain

    images = [{"url": f"{image_server.url}/img/small.jpg"}, {"url": f"{image_server.url}/status/502"}]
    jobs = service.enqueue_missing(images)
    assert [j.origin for j in jobs] == ["images", "images"]
    assert [j.id for j in service.enqueue_missing(images)] == [j.id for j in jobs]  # one job per URL
    assert Queue("images", connection=redis_store.client).count == 2

    drain(app, timeout=20)
    db.session.expire_all()
    good, bad = resolve(images)
    assert len(good) == 1 and bad[0]["error"] == "the photo's server answered HTTP 502"
    assert image_server.hits["/status/502"] == 4  # first try + RETRY_BACKOFF_SECONDS (three retries)
    assert image_server.hits["/img/small.jpg"] == 1


def _solid(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_two_workers_racing_on_one_url_settle_on_one_row(app, image_server):
    """Another worker commits the same URL while this one is downloading: no duplicate, no crash."""
    from sqlalchemy import insert

    from app.media.fetch import Fetcher

    url = f"{image_server.url}/img/small.jpg"
    real = Fetcher(allow_private_hosts=("127.0.0.1",))

    class RacingFetcher:
        def fetch(self, source_url, **kwargs):
            with db.engine.begin() as conn:  # the other worker, on its own connection
                conn.execute(insert(MediaAsset).values(
                    source_url=source_url, status="error", error_code="http_status", error="other worker",
                    created_at=utcnow(), updated_at=utcnow()))
            return real.fetch(source_url, **kwargs)

    asset = ingest(url, fetcher=RacingFetcher())
    assert asset.error == "other worker"
    assert len(db.session.scalars(select(MediaAsset)).all()) == 1
    assert ingest(url).status == "ok"  # the next run repairs it


def test_a_photo_refused_for_its_content_is_not_decoded_again(app, image_server, encodes):
    url = f"{image_server.url}/img/animated.webp"
    first = ingest(url)
    assert first.error_code == "animated" and len(encodes) == 1
    later = utcnow() + timedelta(hours=2)
    assert plan([url], now=later) == [url]  # failed photos are retried after ERROR_RECHECK_AFTER
    again = ingest(url, now=later)
    assert image_server.requests[-1]["if_none_match"]  # asked conditionally: 304, nothing decoded
    assert again.error == "animated images are not supported" and len(encodes) == 1
    image_server.put("animated.webp", image_server.photos["small.jpg"])  # the dealer fixed it
    assert ingest(url, now=later + timedelta(hours=2)).status == "ok" and len(encodes) == 2
