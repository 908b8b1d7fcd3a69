"""The headers every answer carries: `nosniff` always, `Allow` on a 405
and to `OPTIONS`, `Cache-Control: no-store` on a token, and the CORS
policy of `CORS_ORIGINS` (none by default)."""
import logging
import re

import pytest

from services.gateway.http import PARAMETERS
from services.gateway.openapi import document
from services.gateway.service import GatewayService
from tests.unit.conftest import EVENT, assert_problem

APP = "https://app.example.org"
WITH_CORS = pytest.mark.parametrize("gateway", [{"CORS_ORIGINS": [APP]}], indirect=True)


@pytest.fixture
def event(gateway):
    owner = gateway.roles.add_user("owner")
    return gateway.events.acting(owner).create_event(EVENT)


def answers(gateway, event, headers=None):
    """One of each kind: a route's answer, a service's error, no route, a
    method not taken, and a preflight."""
    return [gateway.http.get("/v1/openapi.json", headers=headers),
            gateway.http.get(f"/v1/events/{event['id']}", headers=headers),
            gateway.http.get("/v1/no/such/route", headers=headers),
            gateway.http.put("/v1/users/me", headers=headers),
            gateway.http.options("/v1/users/me", headers=headers)]


def test_every_answer_says_nosniff_and_has_a_request_id(gateway, event):
    responses = answers(gateway, event)

    assert [response.headers.get("X-Content-Type-Options")
            for response in responses] == ["nosniff"] * 5
    assert all(response.headers.get("X-Request-Id") for response in responses)


def test_a_405_names_the_methods_of_the_route_in_allow(gateway):
    response = gateway.http.delete("/v1/users/me")

    assert_problem(response, 405, "method_not_allowed")
    assert _methods(response.headers["Allow"]) == {"GET", "HEAD", "PATCH", "OPTIONS"}


def test_every_documented_path_names_its_methods_on_a_405(gateway):
    """schemathesis' undeclared-method check, over the gateway's own document."""
    for path, operations in document(GatewayService)["paths"].items():
        declared = {method.upper() for method in operations}
        undeclared = sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - declared)[0]
        url = re.sub(r"\{(\w+)\}", lambda m: _example(m[1]), path)

        response = gateway.http.request(undeclared, url)

        assert_problem(response, 405, "method_not_allowed")
        assert _methods(response.headers["Allow"]) == declared | {"OPTIONS"} | (
            {"HEAD"} if "GET" in declared else set()), path


def test_options_answers_any_route_with_its_methods(gateway):
    response = gateway.http.options("/v1/events/1/tracks")

    assert response.status_code == 204 and not response.content
    assert _methods(response.headers["Allow"]) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_token_is_not_stored(gateway):
    gateway.roles.add_user("ana")

    response = gateway.http.post("/v1/auth/token", json={"email": "ana@example.org",
                                                         "password": "correct horse"})

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_no_origin_is_admitted_by_default(gateway, event):
    for response in answers(gateway, event, headers={"Origin": APP}):
        assert not any(name.startswith("Access-Control-") for name in response.headers)
        assert "Vary" not in response.headers


@WITH_CORS
def test_an_admitted_origin_reads_every_answer(gateway, event):
    for response in answers(gateway, event, headers={"Origin": APP}):
        assert response.headers["Access-Control-Allow-Origin"] == APP
        assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
        assert "Origin" in response.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in response.headers


@WITH_CORS
def test_an_admitted_origin_gets_its_preflight_answered(gateway):
    response = gateway.http.options("/v1/events/1", headers={
        "Origin": APP, "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type"})

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert _methods(response.headers["Access-Control-Allow-Methods"]) == {
        "GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
    assert {"Authorization", "Content-Type"} <= {
        name.strip() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert int(response.headers["Access-Control-Max-Age"]) > 0


@WITH_CORS
def test_another_origin_is_not_admitted(gateway, event):
    preflight = gateway.http.options("/v1/events/1", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"})
    read = gateway.http.get(f"/v1/events/{event['id']}",
                            headers={"Origin": "https://evil.example"})

    for response in (preflight, read):
        assert not any(name.startswith("Access-Control-") for name in response.headers)
        assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("gateway, logged", [
    ({}, "127.0.0.1"),
    ({"TRUSTED_PROXIES": ["127.0.0.1"]}, "203.0.113.7"),
], indirect=["gateway"])
def test_the_access_log_names_a_forwarded_client_only_behind_a_trusted_proxy(
        gateway, logged, caplog):
    with caplog.at_level(logging.INFO, logger="services.gateway.http"):
        gateway.http.get("/v1/openapi.json",
                         headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})

    [line] = [record.getMessage() for record in caplog.records
              if "/v1/openapi.json" in record.getMessage()]
    assert line.split(" ")[0] == logged


def _example(parameter):
    schema = PARAMETERS[parameter][1]
    return str(schema["enum"][0] if "enum" in schema else 1)


def _methods(header):
    return {method.strip() for method in header.split(",")}
