"""Every error answers `application/problem+json` with its stable `code`,
at the status the gateway's one table (problems.STATUS) gives it; every
answer, good or bad, carries an X-Request-Id, the one the services' calls
carried."""
import pytest

from contracts.events.errors import CopyFailed
from contracts.media.errors import ImageTooLarge
from contracts.roles.errors import EventNotReady
from shared.context import current_request_id
from shared.errors import Outage, Unavailable
from tests.unit.conftest import EVENT, assert_problem
from tests.unit.fakes import PNG


@pytest.fixture
def world(gateway):
    """`owner`'s draft event, and a signed-up `stranger`."""
    owner = gateway.roles.add_user("owner")
    stranger = gateway.roles.add_user("stranger")
    event = gateway.events.acting(owner).create_event(EVENT)
    return gateway, gateway.auth(owner), gateway.auth(stranger), event


# 403, 404, 405, 409

def test_a_signed_in_user_without_the_role_gets_403(world):
    gateway, _, stranger, event = world

    response = gateway.http.patch(f"/v1/events/{event['id']}", json={"name": "Mine"},
                                  headers=stranger)

    assert "organizer" in assert_problem(response, 403, "permission_denied")["detail"]


@pytest.mark.parametrize("path, code", [
    ("/v1/events/nosuch", "event_not_found"),
    ("/v1/tracks/12345", "not_found"),
    ("/v1/no/such/route", "not_found"),
    ("/v1/events/1/not-a-kind", "not_found"),
])
def test_what_does_not_exist_is_404(world, path, code):
    gateway, owner, _, _ = world

    assert_problem(gateway.http.get(path, headers=owner), 404, code)


def test_a_method_a_route_does_not_take_is_405(gateway):
    assert_problem(gateway.http.put("/v1/users/me"), 405, "method_not_allowed")


def test_a_taken_email_is_409(gateway):
    gateway.roles.add_user("ana")

    response = gateway.http.post("/v1/users", json={"email": "Ana@example.org",
                                                    "password": "correct horse", "name": "Ana"})

    assert_problem(response, 409, "email_taken")


def test_deleting_an_accepted_invite_is_409(world):
    gateway, owner, _, event = world
    invitee = gateway.roles.add_user("invitee")
    invite = gateway.http.post(f"/v1/events/{event['id']}/role-invites", headers=owner,
                               json={"email": "invitee@example.org", "role": "organizer"}).json()
    accepted = gateway.http.patch(f"/v1/role-invites/{invite['id']}", json={"status": "accepted"},
                                  headers=gateway.auth(invitee))

    response = gateway.http.delete(f"/v1/role-invites/{invite['id']}", headers=owner)

    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert_problem(response, 409, "invite_closed")


# 413, 422, 400

def test_a_json_body_over_the_limit_is_413(world):
    gateway, owner, _, _ = world

    response = gateway.http.post("/v1/events", headers=owner,
                                 json={**EVENT, "description": "x" * 2048})

    assert_problem(response, 413, "request_entity_too_large")


def test_an_image_over_the_gateways_limit_is_413_before_the_media_service_sees_it(world):
    gateway, owner, _, event = world

    response = gateway.http.put(f"/v1/events/{event['id']}/images/logo", headers=owner,
                                data=PNG + b"\0" * 8192)

    assert_problem(response, 413, "request_entity_too_large")
    assert gateway.media.files == {}


def test_an_image_the_media_service_finds_too_large_is_413(world):
    gateway, owner, _, event = world
    gateway.media.fail("upload_event_image", ImageTooLarge("over 40 megapixels"))

    response = gateway.http.put(f"/v1/events/{event['id']}/images/original", headers=owner,
                                data=PNG)

    assert_problem(response, 413, "image_too_large")


@pytest.mark.parametrize("body, named", [
    ({**EVENT, "colour": "red"}, "colour: unknown field"),
    ({"name": "No dates"}, "starts_at"),
    ({**EVENT, "timezone": "Mars/Olympus"}, "timezone"),
])
def test_a_body_its_schema_refuses_is_422_naming_the_field(world, body, named):
    gateway, owner, _, _ = world

    response = gateway.http.post("/v1/events", headers=owner, json=body)

    assert named in assert_problem(response, 422, "invalid_input")["detail"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b"\"text\""])
def test_a_body_that_is_not_a_json_object_is_400(world, body):
    gateway, owner, _, _ = world

    response = gateway.http.post("/v1/events", data=body,
                                 headers={**owner, "Content-Type": "application/json"})

    assert_problem(response, 400, "malformed_body")


def test_a_refused_request_changes_nothing(world):
    gateway, owner, _, event = world

    gateway.http.patch(f"/v1/events/{event['id']}", headers=owner, data=b"{not json")

    assert gateway.events.get_event(event["id"])["name"] == EVENT["name"]


# 503, 500

@pytest.mark.parametrize("error", [Unavailable("roles.has_access did not answer within 10s"),
                                   Outage("the broker is unreachable")])
def test_a_service_that_cannot_answer_is_503_with_retry_after(world, error):
    gateway, owner, _, event = world
    gateway.roles.fail("has_access", error)

    response = gateway.http.patch(f"/v1/events/{event['id']}", json={"name": "New"},
                                  headers=owner)

    assert_problem(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"


def test_a_team_not_in_place_in_time_is_503_event_not_ready(world):
    gateway, owner, _, _ = world
    gateway.roles.fail("await_event", EventNotReady("event 2's team is not in place yet"))

    response = gateway.http.post("/v1/events", headers=owner, json=EVENT)

    assert_problem(response, 503, "event_not_ready")
    assert response.headers["Retry-After"] == "1"


def test_a_copy_that_fails_is_503_copy_failed(world):
    gateway, owner, _, event = world
    gateway.events.fail("copy_event", CopyFailed("copying failed; nothing was copied"))

    response = gateway.http.post(f"/v1/events/{event['id']}/copy", headers=owner)

    assert_problem(response, 503, "copy_failed")
    assert response.headers["Retry-After"] == "1"


def test_a_bug_is_500_and_tells_nothing_of_itself(world):
    gateway, owner, _, event = world
    gateway.events.fail("get_event", KeyError("secret internals"))

    response = gateway.http.get(f"/v1/events/{event['id']}", headers=owner)

    body = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text and "KeyError" not in body["detail"]


# X-Request-Id

ANSWERS = [  # (method, path, status): a success, a route's problem, the app's problems
    ("GET", "/v1/openapi.json", 200),
    ("GET", "/v1/users/me", 401),
    ("GET", "/v1/no/such/route", 404),
    ("DELETE", "/v1/openapi.json", 405),
]


@pytest.mark.parametrize("method, path, status", ANSWERS)
def test_every_answer_carries_a_request_id_and_each_a_new_one(gateway, method, path, status):
    first = gateway.http.request(method, path)
    second = gateway.http.request(method, path)

    assert first.status_code == status
    assert len(first.headers["X-Request-Id"]) == 32
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize("method, path, status", ANSWERS)
def test_a_callers_request_id_is_kept(gateway, method, path, status):
    response = gateway.http.request(method, path, headers={"X-Request-Id": "trace-42"})

    assert response.status_code == status
    assert response.headers["X-Request-Id"] == "trace-42"


@pytest.mark.parametrize("unusable", ["x" * 129, "has spaces", "semi;colon"])
def test_an_unusable_request_id_is_replaced(gateway, unusable):
    response = gateway.http.get("/v1/openapi.json", headers={"X-Request-Id": unusable})

    assert response.headers["X-Request-Id"] not in (unusable, "")


def test_the_services_are_called_under_the_answers_request_id(world):
    gateway, owner, _, event = world
    seen, get_event = [], gateway.events.get_event

    def spy(ref):
        seen.append(current_request_id())
        return get_event(ref)
    gateway.events.get_event = spy

    response = gateway.http.get(f"/v1/events/{event['id']}", headers=owner)

    assert seen == [response.headers["X-Request-Id"]]
