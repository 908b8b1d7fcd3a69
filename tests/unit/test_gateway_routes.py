"""What the gateway's routes pass to the services and answer: list windows
(`limit`, `offset`), the copy's options and its Idempotency-Key, images
in and out, the team, and the health of the services behind."""
import base64

import pytest

from shared.errors import Unavailable
from tests.unit.conftest import EVENT, assert_problem
from tests.unit.fakes import PNG

LISTS = ["/v1/events/{id}/tracks", "/v1/events/{id}/role-invites", "/v1/events/{id}/roles"]


@pytest.fixture
def world(gateway):
    """`owner`'s event, with three tracks, three invites and a team of four."""
    owner = gateway.roles.add_user("owner")
    event = gateway.events.acting(owner).create_event(EVENT)
    for n in range(3):
        gateway.events.acting(owner).create_child(event["id"], "tracks",
                                                  {"name": f"Track {n}", "color": "#000000"})
        gateway.roles.acting(owner).create_invite(
            event["id"], {"email": f"guest{n}@example.org", "role": "moderator"})
    for role in ("organizer", "coorganizer", "track_organizer"):
        gateway.roles.grant(gateway.roles.add_user(role), event["id"], role)
    return gateway, owner, event


def get(world, path, **params):
    gateway, owner, event = world
    return gateway.http.get(path.format(id=event["id"]), params=params,
                            headers=gateway.auth(owner))


# list windows

@pytest.mark.parametrize("path", LISTS)
def test_a_list_answers_the_first_50_by_default(world, path):
    response = get(world, path)

    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("total", "limit", "offset")} == {
        "total": 3 if "roles" not in path else 4, "limit": 50, "offset": 0}


@pytest.mark.parametrize("path", LISTS)
def test_a_list_answers_the_window_asked_for(world, path):
    whole = get(world, path).json()["items"]

    window = get(world, path, limit=1, offset=1).json()

    assert window["items"] == whole[1:2] and (window["limit"], window["offset"]) == (1, 1)


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"offset": -1}, {"offset": "x"},
    {"limit": 1.5}, {"page": 2},
])
def test_a_window_out_of_bounds_or_unknown_is_422(world, path, params):
    assert_problem(get(world, path, **params), 422, "invalid_input")


@pytest.mark.parametrize("path", LISTS)
def test_a_parameter_sent_twice_is_422_not_taken_once(world, path):
    response = get(world, path, limit=[1, 2])

    assert "limit" in assert_problem(response, 422, "invalid_input")["detail"]


def test_the_largest_window_is_200(world):
    assert get(world, LISTS[0], limit=200).json()["limit"] == 200


# events and copies

def test_the_creator_of_an_event_may_change_it_at_once(gateway):
    ana = gateway.auth(gateway.roles.add_user("ana"))

    created = gateway.http.post("/v1/events", json=EVENT, headers=ana)
    changed = gateway.http.patch(f"/v1/events/{created.json()['identifier']}",
                                 json={"name": "Renamed"}, headers=ana)

    assert created.status_code == 201 and created.json()["name"] == EVENT["name"]
    assert changed.status_code == 200 and changed.json()["name"] == "Renamed"


def test_a_copy_passes_its_options_and_idempotency_key_to_the_events_service(world):
    gateway, owner, event = world

    response = gateway.http.post(
        f"/v1/events/{event['identifier']}/copy", json={"name": "Copy", "include": ["sessions"]},
        headers={**gateway.auth(owner), "Idempotency-Key": "copy-1"})

    assert response.status_code == 201
    assert response.json()["copied_from"] == {"id": event["id"], "identifier": event["identifier"]}
    assert gateway.events.copies == [{"ref": event["id"], "actor_id": owner, "name": "Copy",
                                      "include": ["sessions"], "idempotency_key": "copy-1"}]


def test_a_copy_without_a_body_or_key_passes_the_defaults(world):
    gateway, owner, event = world

    response = gateway.http.post(f"/v1/events/{event['id']}/copy", headers=gateway.auth(owner))

    assert response.status_code == 201
    assert gateway.events.copies == [{"ref": event["id"], "actor_id": owner, "name": None,
                                      "include": [], "idempotency_key": None}]


def test_the_same_idempotency_key_answers_the_first_copy(world):
    gateway, owner, event = world
    headers = {**gateway.auth(owner), "Idempotency-Key": "once"}

    first = gateway.http.post(f"/v1/events/{event['id']}/copy", headers=headers)
    again = gateway.http.post(f"/v1/events/{event['id']}/copy", headers=headers)

    assert first.status_code == again.status_code == 201 and first.json() == again.json()


def test_a_key_reused_for_another_event_is_409(world):
    gateway, owner, event = world
    other = gateway.events.acting(owner).create_event(EVENT)
    headers = {**gateway.auth(owner), "Idempotency-Key": "once"}
    gateway.http.post(f"/v1/events/{event['id']}/copy", headers=headers)

    response = gateway.http.post(f"/v1/events/{other['id']}/copy", headers=headers)

    assert_problem(response, 409, "idempotency_key_reused")


@pytest.mark.parametrize("body", [{"include": ["orders"]}, {"include": "sessions"},
                                  {"name": ""}, {"copies": 2}])
def test_copy_options_it_does_not_know_are_422(world, body):
    gateway, owner, event = world

    response = gateway.http.post(f"/v1/events/{event['id']}/copy", json=body,
                                 headers=gateway.auth(owner))

    assert_problem(response, 422, "invalid_input")
    assert gateway.events.copies == []


def test_a_copy_needs_a_coorganizer(world):
    gateway, _, event = world
    tracker = gateway.roles.add_user("tracker")
    gateway.roles.grant(tracker, event["id"], "track_organizer")

    response = gateway.http.post(f"/v1/events/{event['id']}/copy", headers=gateway.auth(tracker))

    assert_problem(response, 403, "permission_denied")


def test_deleting_an_event_answers_204_without_a_body(world):
    gateway, owner, event = world

    response = gateway.http.delete(f"/v1/events/{event['id']}", headers=gateway.auth(owner))

    assert response.status_code == 204 and response.content == b""
    assert_problem(gateway.http.get(f"/v1/events/{event['id']}"), 404, "event_not_found")


# images

def test_an_uploaded_image_is_served_with_its_type_and_etag(world):
    gateway, owner, event = world
    image = PNG + b"pixels"

    uploaded = gateway.http.put(f"/v1/events/{event['id']}/images/original", data=image,
                                headers={**gateway.auth(owner), "Content-Type": "image/png"})
    key = uploaded.json()["media"][0]["url"].rsplit("/", 1)[1]
    served = gateway.http.get(f"/media/{key}")
    cached = gateway.http.get(f"/media/{key}", headers={"If-None-Match": served.headers["ETag"]})

    assert uploaded.status_code == 200 and uploaded.json()["event_id"] == event["id"]
    assert served.status_code == 200 and served.content == image
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert cached.status_code == 304 and cached.content == b""


def test_the_image_reaches_the_media_service_as_base64_of_its_bytes(world):
    gateway, owner, event = world
    uploads, upload = [], gateway.media.upload_event_image

    def spy(event_ref, slot, content):
        uploads.append((gateway.media.actor_id, event_ref, slot, base64.b64decode(content)))
        return upload(event_ref, slot, content)
    gateway.media.upload_event_image = spy

    gateway.http.put(f"/v1/events/{event['identifier']}/images/logo", data=PNG,
                     headers=gateway.auth(owner))

    assert uploads == [(owner, event["id"], "logo", PNG)]


def test_an_unknown_media_key_is_404(gateway):
    assert_problem(gateway.http.get("/media/" + "0" * 64), 404, "media_not_found")


def test_an_image_slot_that_takes_no_upload_is_404(world):
    gateway, owner, event = world

    response = gateway.http.put(f"/v1/events/{event['id']}/images/thumbnail", data=PNG,
                                headers=gateway.auth(owner))

    assert_problem(response, 404, "not_found")


# health

def test_health_is_200_when_every_service_answers(gateway):
    admin = gateway.roles.add_user("admin", is_admin=True)

    response = gateway.http.get("/v1/health", headers=gateway.auth(admin))

    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert set(response.json()["services"]) == {"events", "roles", "media", "notifications",
                                                "webhooks"}


def test_health_is_503_naming_the_service_that_does_not_answer_to_an_admin(gateway):
    admin = gateway.roles.add_user("admin", is_admin=True)
    gateway.media.fail("health", Unavailable("media.health did not answer within 2s"))

    response = gateway.http.get("/v1/health", headers=gateway.auth(admin))

    assert response.status_code == 503
    assert response.json()["services"]["media"]["status"] == "unavailable"
    assert response.json()["services"]["events"]["status"] == "ok"


@pytest.mark.parametrize("caller", [None, "user"])
def test_health_shows_anyone_else_only_up_or_down(gateway, caller):
    headers = gateway.auth(gateway.roles.add_user(caller)) if caller else {}
    gateway.media.fail("health", Unavailable("media.health did not answer within 2s"))

    response = gateway.http.get("/v1/health", headers=headers)

    assert response.status_code == 503 and response.json() == {"status": "unavailable"}


@pytest.mark.parametrize("failure", ["health", "has_access", "check_session"])
def test_health_is_up_or_down_when_roles_cannot_tell_who_is_admin(gateway, failure):
    admin = gateway.roles.add_user("admin", is_admin=True)
    gateway.roles.fail(failure, Unavailable("roles did not answer within 2s"))

    response = gateway.http.get("/v1/health", headers=gateway.auth(admin))

    assert response.json() == {"status": "ok" if failure != "health" else "unavailable"}
    assert response.status_code == (200 if failure != "health" else 503)
