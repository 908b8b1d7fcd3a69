"""Who the gateway lets in: a route that needs a token refuses a request
without one, or with a bad one, with 401 and a Bearer challenge; an
optional-auth route serves anonymous callers what is public, and a route
without auth reads no token at all."""
import pytest

from services.gateway.tokens import TokenCodec
from tests.unit.conftest import EVENT, SECRET, assert_problem

REQUIRED = [  # (method, path) of routes that need a signed-in user
    ("GET", "/v1/users/me"),
    ("POST", "/v1/events"),
    ("PATCH", "/v1/events/1"),
    ("DELETE", "/v1/events/1"),
    ("POST", "/v1/events/1/copy"),
    ("POST", "/v1/events/1/tracks"),
    ("GET", "/v1/events/1/role-invites"),
    ("GET", "/v1/role-invites/1"),
    ("PUT", "/v1/events/1/images/original"),
]
BAD_TOKENS = {
    "not a JWT": "Bearer not-a-token",
    "another scheme": "Basic dXNlcjpwYXNz",
    "no token": "Bearer ",
    "another secret": "Bearer " + TokenCodec("another-" + "y" * 32, 600).issue(
        1, "s")["access_token"],
    "expired": "Bearer " + TokenCodec(SECRET, -60).issue(1, "s")["access_token"],
}


@pytest.fixture
def world(gateway):
    """A published public event and a draft, both of `owner`'s."""
    owner = gateway.roles.add_user("owner")
    public = gateway.events.acting(owner).create_event({**EVENT, "state": "published"})
    draft = gateway.events.acting(owner).create_event(EVENT)
    return gateway, owner, public, draft


def assert_challenged(response):
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="open-event"'


@pytest.mark.parametrize("method, path", REQUIRED)
def test_a_route_that_needs_a_token_refuses_a_request_without_one(gateway, method, path):
    assert_challenged(gateway.http.request(method, path, json={}))


@pytest.mark.parametrize("authorization", BAD_TOKENS.values(), ids=BAD_TOKENS)
def test_a_bad_or_expired_token_is_refused(gateway, authorization):
    user = gateway.roles.add_user("ana")

    response = gateway.http.get("/v1/users/me", headers={"Authorization": authorization})

    assert_challenged(response)
    assert gateway.http.get("/v1/users/me", headers=gateway.auth(user)).status_code == 200


def test_an_expired_token_says_so(gateway):
    gateway.roles.add_user("ana")

    response = gateway.http.get("/v1/users/me", headers={"Authorization": BAD_TOKENS["expired"]})

    assert "expired" in assert_problem(response, 401, "unauthenticated")["detail"]


def test_a_valid_token_names_the_signed_in_user(gateway):
    ana = gateway.roles.add_user("ana")

    response = gateway.http.get("/v1/users/me", headers=gateway.auth(ana))

    assert response.status_code == 200
    assert response.json()["email"] == "ana@example.org"


def test_the_token_of_a_user_who_no_longer_exists_is_refused(gateway):
    assert_challenged(gateway.http.get("/v1/users/me", headers=gateway.auth(404)))


def test_signing_in_gives_a_token_that_works_and_a_wrong_password_gets_401(gateway):
    gateway.roles.add_user("ana")

    signed_in = gateway.http.post("/v1/auth/token", json={"email": "ana@example.org",
                                                         "password": "correct horse"})
    refused = gateway.http.post("/v1/auth/token", json={"email": "ana@example.org",
                                                       "password": "wrong"})

    assert signed_in.status_code == 200 and signed_in.json()["token_type"] == "bearer"
    token = signed_in.json()["access_token"]
    me = gateway.http.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "ana@example.org"
    assert_problem(refused, 401, "invalid_credentials")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_route_without_auth_reads_no_token(gateway):
    response = gateway.http.post(
        "/v1/users", headers={"Authorization": BAD_TOKENS["not a JWT"]},
        json={"email": "ana@example.org", "password": "correct horse", "name": "Ana"})

    assert response.status_code == 201 and response.json()["name"] == "Ana"


def test_anyone_may_read_a_published_public_event_and_its_public_kinds(world):
    gateway, owner, public, _ = world
    gateway.events.acting(owner).create_child(public["id"], "tracks",
                                              {"name": "Web", "color": "#00ff00"})

    event = gateway.http.get(f"/v1/events/{public['identifier']}")
    tracks = gateway.http.get(f"/v1/events/{public['id']}/tracks")

    assert event.status_code == 200 and event.json()["id"] == public["id"]
    assert tracks.status_code == 200 and [t["name"] for t in tracks.json()["items"]] == ["Web"]


def test_an_optional_auth_route_still_refuses_a_bad_token(world):
    gateway, _, public, _ = world

    assert_challenged(gateway.http.get(f"/v1/events/{public['id']}",
                                       headers={"Authorization": BAD_TOKENS["expired"]}))


def test_a_draft_asks_anonymous_callers_to_sign_in_and_refuses_strangers(world):
    gateway, owner, _, draft = world
    stranger = gateway.roles.add_user("stranger")
    path = f"/v1/events/{draft['id']}"

    assert_challenged(gateway.http.get(path))
    assert_problem(gateway.http.get(path, headers=gateway.auth(stranger)), 403,
                   "permission_denied")
    assert gateway.http.get(path, headers=gateway.auth(owner)).status_code == 200


def test_private_kinds_of_a_public_event_need_a_coorganizer(world):
    gateway, owner, public, _ = world
    stranger = gateway.roles.add_user("stranger")
    path = f"/v1/events/{public['id']}/orders"

    assert_challenged(gateway.http.get(path))
    assert_problem(gateway.http.get(path, headers=gateway.auth(stranger)), 403,
                   "permission_denied")
    assert gateway.http.get(path, headers=gateway.auth(owner)).status_code == 200
