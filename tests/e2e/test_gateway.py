"""The gateway's own promises, over HTTP against the running system: bad
input answers a problem (never a 5xx), bodies are limited before they are
read, lists are paginated, media are served with cache headers, copies
honour Idempotency-Key, requests are numbered, and health and the OpenAPI
document answer."""
import io
import json
import socket
import subprocess
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests
from openapi_spec_validator import validate
from PIL import Image

from services.gateway.openapi import document
from services.gateway.service import GatewayService
from shared.actors import new_key_pair
from tests.conftest import ROOT
from tests.e2e.helpers import png
from tests.support.http import ok
from tests.support.system import create_vhost, delete_vhost, free_port

EVENT = {"name": "PyCon", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00"}
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def problem(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_FIELDS and body["status"] == status
    if code:
        assert body["code"] == code
    return body


@pytest.fixture
def owner(new_user):
    return new_user("owner")


@pytest.fixture
def event(owner):
    return ok(owner.api.post("/v1/events", EVENT), 201)


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "malformed_body"),
    (b"[1, 2]", 400, "malformed_body"),
    (b"", 400, "malformed_body"),
    (json.dumps({**EVENT, "colour": "red"}).encode(), 422, "invalid_input"),
    (json.dumps({**EVENT, "name": 42}).encode(), 422, "invalid_input"),
    (json.dumps({**EVENT, "starts_at": "yesterday"}).encode(), 422, "invalid_input"),
    (json.dumps({**EVENT, "ends_at": "2030-04-01T09:00:00+02:00"}).encode(), 422,
     "invalid_input"),
    (json.dumps({**EVENT, "identifier": "abcdef12"}).encode(), 422, "invalid_input"),
    (json.dumps({**EVENT, "name": "a\u0000b"}).encode(), 422, "invalid_input"),
])
def test_a_bad_body_is_a_problem_naming_what_is_wrong(owner, body, status, code):
    response = owner.api.request("POST", "/v1/events", data=body,
                                 headers={"Content-Type": "application/json"})

    problem(response, status, code)


# the routes of accounts and mailed links: bad bodies and links that are no
# good are problems (anonymous: these routes take no token)
LINK_PROBLEMS = [
    ("/v1/users/verify-email", {}, 422, "invalid_input"),
    ("/v1/users/verify-email", {"token": ""}, 422, "invalid_input"),
    ("/v1/users/verify-email", {"token": 42}, 422, "invalid_input"),
    ("/v1/users/verify-email", {"token": "x" * 300}, 422, "invalid_input"),
    ("/v1/users/verify-email", {"token": "guessed"}, 422, "invalid_link"),
    ("/v1/users/verify-email", {"token": "guessed", "email": "a@b.org"}, 422, "invalid_input"),
    ("/v1/auth/password-reset", {}, 422, "invalid_input"),
    ("/v1/auth/password-reset", {"email": ["a@b.org"]}, 422, "invalid_input"),
    ("/v1/auth/password-reset/confirm", {"token": "guessed"}, 422, "invalid_input"),
    ("/v1/auth/password-reset/confirm", {"token": "guessed", "password": "short"}, 422,
     "invalid_input"),
    ("/v1/auth/password-reset/confirm", {"token": "guessed", "password": "long enough now"},
     422, "invalid_link"),
]


@pytest.mark.parametrize("path, body, status, code", LINK_PROBLEMS)
def test_a_bad_body_or_link_on_the_account_routes_is_a_problem(api, path, body, status, code):
    problem(api.post(path, body), status, code)


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "invalid_input"),
    ({"token": "guessed", "status": "maybe"}, 422, "invalid_input"),
    ({"token": "guessed", "status": "accepted", "role": "owner"}, 422, "invalid_input"),
    ({"token": "guessed"}, 404, "invite_not_found"),
])
def test_a_bad_answer_to_an_invite_by_link_is_a_problem(owner, body, status, code):
    problem(owner.api.post("/v1/role-invites/accept", body), status, code)


def test_a_profile_change_takes_only_what_it_may(owner):
    problem(owner.api.patch("/v1/users/me", {"email": "new@example.org"}), 422, "invalid_input")
    problem(owner.api.patch("/v1/users/me", {"is_admin": True}), 422, "invalid_input")
    problem(owner.api.patch("/v1/users/me", {"password": "a new long password",
                                             "current_password": "not it"}), 422,
            "wrong_password")
    assert ok(owner.api.get("/v1/users/me"))["is_admin"] is False


def test_unknown_paths_and_methods_are_problems_too(api, owner, event):
    problem(api.get("/v1/nothing-here"), 404, "not_found")
    problem(api.get(f"/v1/events/{event['id']}/not-a-kind"), 404, "not_found")
    problem(owner.api.put(f"/v1/events/{event['id']}"), 405, "method_not_allowed")
    problem(owner.api.get("/v1/events/99999999"), 404, "event_not_found")
    problem(owner.api.get("/v1/tracks/99999999999999999999"), 404)


def test_a_json_body_over_the_limit_is_refused(owner):
    response = owner.api.request("POST", "/v1/events", data=b" " * (2**20 + 1),
                                 headers={"Content-Type": "application/json"})

    problem(response, 413, "request_entity_too_large")


def test_an_image_over_the_limit_is_refused_before_it_is_read(system, owner, event):
    """Only the headers are sent: the answer comes without the body."""
    address = urlparse(system.base_url)
    head = (f"PUT /v1/events/{event['id']}/images/logo HTTP/1.1\r\n"
            f"Host: {address.netloc}\r\nAuthorization: Bearer {owner.token}\r\n"
            f"Content-Type: image/png\r\nContent-Length: {500 * 2**20}\r\n\r\n")
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head.encode())
        answer = connection.recv(4096).decode(errors="replace")

    assert answer.startswith("HTTP/1.1 413"), answer
    assert "application/problem+json" in answer


def test_lists_are_paginated(owner, event):
    for number in range(5):
        ok(owner.api.post(f"/v1/events/{event['id']}/tracks",
                          {"name": f"Track {number}", "color": "#112233"}), 201)

    page = ok(owner.api.get(f"/v1/events/{event['id']}/tracks?limit=2&offset=3"))

    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 3)
    assert [track["name"] for track in page["items"]] == ["Track 3", "Track 4"]
    problem(owner.api.get(f"/v1/events/{event['id']}/tracks?limit=500"), 422)
    problem(owner.api.get(f"/v1/events/{event['id']}/tracks?offset=-1"), 422)
    problem(owner.api.get(f"/v1/events/{event['id']}/tracks?limit=two"), 422)


def test_the_creator_reads_and_changes_the_event_at_once(owner, event):
    assert ok(owner.api.get(f"/v1/events/{event['identifier']}"))["id"] == event["id"]
    changed = ok(owner.api.patch(f"/v1/events/{event['id']}", {"state": "published"}))
    assert changed["state"] == "published"


def test_media_are_served_with_cache_headers_and_revalidated(api, owner, event):
    image = png(64, 32, "navy")
    ok(owner.api.put(f"/v1/events/{event['id']}/images/logo", data=image,
                     headers={"Content-Type": "image/png"}))
    url = ok(owner.api.get(f"/v1/events/{event['id']}"))["logo_url"]
    path = urlparse(url).path

    served = api.get(path)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).size == (64, 32)
    assert served.headers["Cache-Control"] == "private, no-cache"  # a draft's: revalidated
    again = api.get(path, headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""

    ok(owner.api.put(f"/v1/events/{event['id']}/images/logo", data=png(64, 32, "red"),
                     headers={"Content-Type": "image/png"}))
    problem(api.get(path), 404)  # replaced: the old key stops serving


@pytest.mark.parametrize("key", ["..%2F..%2Fetc%2Fpasswd", "nothing", "' OR 1=1 --"])
def test_a_wrong_media_key_is_not_found(api, key):
    assert api.get(f"/media/{key}").status_code == 404


def test_a_copy_request_sent_twice_with_one_key_makes_one_copy(owner, event):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = ok(owner.api.post(f"/v1/events/{event['id']}/copy", {"name": "Again"},
                              headers=key), 201)
    second = ok(owner.api.post(f"/v1/events/{event['id']}/copy", {"name": "Again"},
                               headers=key), 201)
    other = ok(owner.api.post(f"/v1/events/{event['id']}/copy"), 201)

    assert second == first and first["copied"] is True
    assert first["copied_from"] == {"id": event["id"], "identifier": event["identifier"]}
    assert other["id"] != first["id"]
    assert ok(owner.api.get(f"/v1/events/{first['id']}"))["name"] == "Again"


def test_every_answer_carries_a_request_id(api):
    sent = api.get("/v1/health", headers={"X-Request-Id": "req-123"})
    made = api.get("/v1/health")

    assert sent.headers["X-Request-Id"] == "req-123"
    assert len(made.headers["X-Request-Id"]) == 32


def test_health_reports_every_service_to_an_admin(api, new_user, make_admin):
    health = ok(make_admin(new_user("admin")).api.get("/v1/health"))

    assert health["status"] == "ok"
    assert set(health["services"]) == {"events", "roles", "media", "notifications", "webhooks"}
    assert all(check == {"status": "ok", "database": "ok", "broker": "ok"}
               for check in health["services"].values())


def test_health_is_up_or_down_to_anyone_else(api, new_user):
    assert ok(api.get("/v1/health")) == ok(new_user().api.get("/v1/health")) == {"status": "ok"}


def test_the_openapi_document_is_served_and_valid(api):
    served = ok(api.get("/v1/openapi.json"))

    validate(served)
    assert served == json.loads(json.dumps(document(GatewayService)))


def _gateway_alone(env, tmp_path):
    """A gateway process on a vhost of its own, where no service answers."""
    vhost = f"e2e-alone-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    port = free_port()
    env = {**env, "AMQP_URI": f"pyamqp://127.0.0.1:5672/{vhost}",
           "GATEWAY_ADDRESS": f"127.0.0.1:{port}", "HEALTH_TIMEOUT": "1"}
    log = open(tmp_path / "gateway.log", "w")
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/nameko"), "run", "--config", "services/gateway/config.yml",
         "services.gateway.service"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", vhost


def test_health_is_503_when_services_do_not_answer(system, tmp_path):
    process, base_url, vhost = _gateway_alone(system.env, tmp_path)
    try:
        response = _poll(lambda: requests.get(f"{base_url}/v1/health", timeout=5))
    finally:
        process.terminate()
        process.wait(timeout=30)
        delete_vhost(vhost)

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}  # roles away: no one is an admin


def test_production_refuses_to_start_with_the_development_secret(system, tmp_path):
    env = {key: value for key, value in system.env.items() if key != "JWT_SECRET"}
    signing_key, public_key = new_key_pair()  # production refuses the development keys,
    # and the development broker password too: only the secret is left to refuse
    result = subprocess.run(
        [str(ROOT / ".venv/bin/nameko"), "run", "--config", "services/gateway/config.yml",
         "services.gateway.service"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**env, "ENVIRONMENT": "production", "GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
             "ACTOR_SIGNING_KEY": signing_key, "ACTOR_PUBLIC_KEY": public_key,
             "GATEWAY_BROKER_PASSWORD": uuid.uuid4().hex})

    assert result.returncode != 0
    assert result.stderr.splitlines()[-1].startswith(
        "JWT_SECRET refused: it is the development secret")


def _poll(call, timeout=30):
    """The first answer the server gives (it may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

