"""The WebSocket upgrade on /v1/responses, as Flask's test client sees it: refused in HTTP before any
upgrade (401 for a wrong key, 426 where the server holds no raw socket), while the HTTP routes of
the same path keep working."""

from tests.support.secrets import CLIENT_SECRET

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
           "Sec-WebSocket-Version": "13"}


def test_a_wrong_key_is_401_before_the_upgrade(client):
    r = client.get("/v1/responses", headers={**UPGRADE, "Authorization": "Bearer sk-wrong"})
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_api_key"
    assert client.get("/v1/responses", headers=UPGRADE).status_code == 401


def test_a_server_without_a_raw_socket_answers_426(client):
    r = client.get("/v1/responses", headers={**UPGRADE, "Authorization": f"Bearer {CLIENT_SECRET}"})
    assert r.status_code == 426 and "POST /v1/responses" in r.json["error"]["message"]


def test_http_on_the_same_path_is_unchanged(client, auth):
    assert client.get("/v1/responses", headers=auth).status_code == 405
    r = client.post("/v1/responses", headers=auth, json={"model": "fast"})
    assert r.status_code == 400 and r.json["error"]["param"] == "input"
