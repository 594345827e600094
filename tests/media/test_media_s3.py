"""Photos in an S3-compatible bucket: moto's S3 server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support.services import free_port

BUCKET = "forecourt-media"


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_app(app, s3_endpoint, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    app.config["FORECOURT"] = dataclasses.replace(
        app.config["FORECOURT"], media_s3_bucket=BUCKET, media_s3_endpoint_url=s3_endpoint,
        media_s3_region="us-east-1", media_s3_public_url=f"https://cdn.example/{BUCKET}",
    )
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def test_photos_go_to_the_bucket_with_immutable_caching_and_a_cdn_url(s3_app, image_server):
    from app.media import service

    source = image_server.url + "/img/rotated-12mp.jpg"
    asset = service.ingest(source)
    assert asset.status == "ok"
    key = f"media/{asset.media_sha256}.webp"
    head = s3_app.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentType"] == "image/webp"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    good, bad = service.resolve([{"url": source}])
    assert bad == []
    assert good[0]["url"] == f"https://cdn.example/{BUCKET}/{key}"


def test_forecourt_does_not_serve_bucket_photos_itself(s3_app, client, image_server):
    from app.media import service

    asset = service.ingest(image_server.url + "/img/rotated-12mp.jpg")
    assert client.get(f"/media/{asset.media_sha256}.webp").status_code == 404


def test_a_bucket_needs_a_public_url():
    from app.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="MEDIA_S3_PUBLIC_URL"):
        Settings.from_env({"MEDIA_S3_BUCKET": "b"})
