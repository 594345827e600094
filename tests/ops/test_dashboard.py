from __future__ import annotations

import base64

import pytest

from app.auth.keys import create_key


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"ops:{token}".encode()).decode()}


@pytest.mark.parametrize("path", ["/rq", "/rq/", "/rq/0/view/queues", "/rq/0/data/queues.json"])
def test_dashboard_refuses_anonymous_access(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_dashboard_refuses_a_wrong_password(client):
    assert client.get("/rq/", headers=basic("wrong")).status_code == 401


def test_admin_token_opens_the_dashboard(client, admin_headers):
    response = client.get("/rq/", headers=admin_headers)
    assert response.status_code == 200
    assert b"RQ" in response.data


def test_basic_auth_with_the_token_as_password_works(client):
    from tests.conftest import ADMIN_TOKEN

    assert client.get("/rq/", headers=basic(ADMIN_TOKEN)).status_code == 200


def test_read_only_key_cannot_requeue_or_delete(app, client):
    _, token = create_key("viewer", ["dashboard:read"])
    assert client.get("/rq/", headers=basic(token)).status_code == 200
    for method, path in [("GET", "/rq/requeue/default"), ("POST", "/rq/job/x/delete"),
                         ("POST", "/rq/queue/default/failed/empty")]:
        response = client.open(path, method=method, headers=basic(token))
        assert response.status_code == 403, path


def test_destructive_actions_need_same_origin(app, client):
    _, token = create_key("operator", ["dashboard:read", "dashboard:write"])
    cross = client.post("/rq/requeue/default", headers={**basic(token), "Origin": "https://evil.example"})
    assert cross.status_code == 403
    same = client.post("/rq/requeue/default", headers={**basic(token), "Origin": "http://localhost"})
    assert same.status_code == 200


def test_revoked_keys_stop_working(app, client):
    runner = app.test_cli_runner()
    key, token = create_key("temp", ["dashboard:read"])
    assert client.get("/rq/", headers=basic(token)).status_code == 200
    assert runner.invoke(args=["forecourt", "keys", "revoke", str(key.id)]).exit_code == 0
    assert client.get("/rq/", headers=basic(token)).status_code == 401


def test_unknown_scopes_are_refused(app):
    with pytest.raises(ValueError, match="unknown scopes"):
        create_key("bad", ["everything"])
