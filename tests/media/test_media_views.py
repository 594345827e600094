"""Serving /media/<sha256>.webp, the store, and the 0002 migration."""

from __future__ import annotations

import hashlib

import pytest

from app.media.store import LocalMediaStore, local_store
from tests.conftest import make_settings

DATA = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def stored(app):
    store = local_store()
    store.put(SHA, DATA)
    return store


def test_a_stored_file_is_served_immutable(client, stored):
    response = client.get(f"/media/{SHA}.webp")
    assert response.status_code == 200
    assert response.data == DATA
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["ETag"] == f'"{SHA}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert stored.url(SHA) == f"http://127.0.0.1:8000/media/{SHA}.webp"


def test_conditional_and_head_requests(client, stored):
    assert client.get(f"/media/{SHA}.webp", headers={"If-None-Match": f'"{SHA}"'}).status_code == 304
    head = client.head(f"/media/{SHA}.webp")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(DATA))


@pytest.mark.parametrize(
    "path",
    [
        "/media/" + "0" * 64 + ".webp",  # well-formed but not stored
        f"/media/{SHA.upper()}.webp",
        f"/media/{SHA}.jpg",
        f"/media/{SHA}.webp.webp",
        f"/media/{SHA[:63]}.webp",
        f"/media/{SHA}",
        "/media/../../etc/passwd",
        "/media/..%2f..%2fetc%2fpasswd",
        "/media/%2e%2e/forecourt.db",
        f"/media/{SHA[:2]}/{SHA}.webp",
        "/media/",
    ],
)
def test_anything_else_is_a_404_envelope(client, stored, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_store_is_content_addressed_and_idempotent(tmp_path):
    store = LocalMediaStore(tmp_path / "media", "https://forecourt.example/")
    store.put(SHA, DATA)
    store.put(SHA, b"ignored: the name is the content")
    path = store.path(SHA)
    assert path == (tmp_path / "media" / SHA[:2] / f"{SHA}.webp").resolve()
    assert path.read_bytes() == DATA and store.exists(SHA)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left behind
    assert store.url(SHA) == f"https://forecourt.example/media/{SHA}.webp"
    for bad in ("../" + SHA, SHA.upper(), "x" * 64):
        with pytest.raises(ValueError):
            store.path(bad)


def test_migration_0002_up_and_down(tmp_path, redis_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from app import create_app
    from app.extensions import db

    fresh = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", redis_url))
    with fresh.app_context():
        upgrade()
        inspector = inspect(db.engine)
        assert "media_assets" in inspector.get_table_names()
        assert {ix["name"] for ix in inspector.get_indexes("media_assets")} == {
            "ix_media_assets_media_sha256", "ix_media_assets_source_sha256"}
        assert [uq["name"] for uq in inspector.get_unique_constraints("media_assets")] == [
            "uq_media_assets_source_url"]
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert [d for d in diff if "media_assets" in repr(d)] == []
        downgrade(revision="0001")
        assert "media_assets" not in inspect(db.engine).get_table_names()
        upgrade()
        db.engine.dispose()
