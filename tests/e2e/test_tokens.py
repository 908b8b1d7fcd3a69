"""Signing in, end to end: which bearer tokens the gateway takes, what bad
credentials answer, and that a password is never given back or logged.

Tokens are minted here with PyJWT, with the system's own secret
(`JWT_SECRET` of the running system) where a test needs a well-signed one,
naming a real sign-in (`sid`, read from a token the system issued) unless
the test is about the sign-in: a token is good only while its sign-in is
on, however well it is signed.
"""
import base64
import json
import time
import uuid

import jwt
import pytest

from tests.e2e.helpers import assert_problem
from tests.support.http import PASSWORD, Api, ok

ME = "/v1/users/me"
OTHER_SECRET = "another-secret-" + "y" * 32


@pytest.fixture(scope="module")
def person(new_user):
    return new_user("tokens")


@pytest.fixture(scope="module")
def other(new_user):
    return new_user("other")


@pytest.fixture(scope="module")
def secret(system):
    return system.env["JWT_SECRET"]


def sid(user):
    """The sign-in the user's token names."""
    return jwt.decode(user.token, options={"verify_signature": False})["sid"]


def claims(user, issued=None, lifetime=3600, user_id=None):
    """The claims of a token for `user`'s sign-in (with another `sub` if
    `user_id` is given)."""
    issued = int(time.time()) if issued is None else issued
    return {"sub": str(user.id if user_id is None else user_id), "sid": sid(user),
            "iat": issued, "exp": issued + lifetime}


def mint(payload, secret, algorithm="HS256"):
    return jwt.encode(payload, secret, algorithm=algorithm)


def unsigned(payload):
    """A token with `alg: none` and no signature."""
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def me_with(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    return Api(api.base_url).get(ME, headers=headers)


# name → the Authorization header (None: not sent), given the person, the
# other user and the system's secret
REFUSED = {
    "no token": lambda p, o, s: None,
    "an empty header": lambda p, o, s: "",
    "the scheme alone": lambda p, o, s: "Bearer",
    "the scheme and blanks": lambda p, o, s: "Bearer    ",
    "another scheme": lambda p, o, s: "Basic " + base64.b64encode(b"a@b.org:pw").decode(),
    "a valid token without the scheme": lambda p, o, s: p.token,
    "not a JWT": lambda p, o, s: "Bearer not-a-jwt",
    "a tampered signature": lambda p, o, s: "Bearer " + p.token[:-4] + (
        "AAAA" if not p.token.endswith("AAAA") else "BBBB"),
    "an expired token": lambda p, o, s: "Bearer " + mint(
        claims(p, issued=int(time.time()) - 7200), s),
    "another secret": lambda p, o, s: "Bearer " + mint(claims(p), OTHER_SECRET),
    "alg none": lambda p, o, s: "Bearer " + unsigned(claims(p)),
    "another algorithm (HS512)": lambda p, o, s: "Bearer " + mint(claims(p), s, "HS512"),
    "another user's id, wrong secret": lambda p, o, s: "Bearer " + mint(claims(o),
                                                                        OTHER_SECRET),
    "no exp claim": lambda p, o, s: "Bearer " + mint({"sub": str(p.id), "sid": sid(p),
                                                      "iat": int(time.time())}, s),
    "no sid claim": lambda p, o, s: "Bearer " + mint(
        {key: value for key, value in claims(p).items() if key != "sid"}, s),
    "a sid that names no sign-in": lambda p, o, s: "Bearer " + mint(
        {**claims(p), "sid": "no-such-sign-in-0123456789"}, s),
    "a sid that is no string": lambda p, o, s: "Bearer " + mint({**claims(p), "sid": 7}, s),
    "another user's sign-in": lambda p, o, s: "Bearer " + mint(claims(o, user_id=p.id), s),
    "a sub that is no user id": lambda p, o, s: "Bearer " + mint({**claims(p),
                                                                  "sub": "admin"}, s),
    "a user that does not exist": lambda p, o, s: "Bearer " + mint(
        claims(p, user_id=2**31 - 7), s),
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("authorization", REFUSED.values(), ids=REFUSED.keys())
def test_a_missing_or_bad_token_is_refused_with_401(api, person, other, secret, authorization):
    response = me_with(api, authorization(person, other, secret))

    body = assert_problem(response, 401)
    assert not {"id", "email"} & body.keys()  # no user's data


def test_the_issued_token_answers_its_user(api, person):
    me = ok(me_with(api, f"Bearer {person.token}"))

    assert (me["id"], me["email"]) == (person.id, person.email)


def test_a_token_signed_with_the_systems_secret_answers_its_user(api, person, other, secret):
    """The control for the refusals above: the secret is the system's."""
    assert ok(me_with(api, "Bearer " + mint(claims(other), secret)))["id"] == other.id
    assert ok(me_with(api, "bearer " + mint(claims(person), secret)))["id"] == person.id


def test_a_token_is_refused_once_its_sign_in_has_ended(api, person, secret):
    """Signed out: the token, and any other naming its sign-in however
    well signed, is refused; the person's other sign-ins still work."""
    signed_in = ok(api.post("/v1/auth/token", {"email": person.email, "password": PASSWORD}))
    ended = type(person)(person.id, person.email, signed_in["access_token"],
                         api.as_user(signed_in["access_token"]), signed_in["expires_in"])
    assert ok(ended.api.get(ME))["id"] == person.id

    assert ended.api.post("/v1/auth/logout").status_code == 204

    assert_problem(ended.session().get(ME), 401, "session_ended")
    assert_problem(me_with(api, "Bearer " + mint(claims(ended), secret)), 401, "session_ended")
    assert ok(person.session().get(ME))["id"] == person.id


def test_a_bad_token_is_refused_on_a_route_where_signing_in_is_optional(api, person, secret):
    owner = person.api
    event = ok(owner.post("/v1/events", {
        "name": "Open", "starts_at": "2030-01-01T09:00:00+00:00",
        "ends_at": "2030-01-01T18:00:00+00:00", "state": "published"}), 201)
    path = f"/v1/events/{event['id']}"
    assert ok(Api(api.base_url).get(path))["id"] == event["id"]  # anyone may read it

    for token in (mint(claims(person, issued=int(time.time()) - 7200), secret),
                  mint(claims(person), OTHER_SECRET), unsigned(claims(person)),
                  mint({**claims(person), "sid": "no-such-sign-in-0123456789"}, secret)):
        assert_problem(Api(api.base_url).get(path, headers={"Authorization": f"Bearer {token}"}),
                       401)


def test_a_wrong_password_and_an_unknown_email_answer_alike(api, person):
    wrong_password = api.post("/v1/auth/token", {"email": person.email,
                                                 "password": "not the password"})
    unknown_email = api.post("/v1/auth/token", {"email": f"nobody.{uuid.uuid4().hex}@example.org",
                                                "password": "not the password"})

    first = assert_problem(wrong_password, 401, "invalid_credentials")
    second = assert_problem(unknown_email, 401, "invalid_credentials")
    assert first == second  # nothing tells a known email from an unknown one
    assert "access_token" not in first


def test_a_password_is_in_no_answer_and_nowhere_in_the_log(api, system):
    password = f"pw-{uuid.uuid4().hex}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    email = f"secret.{uuid.uuid4().hex[:8]}@example.org"
    responses = [
        api.post("/v1/users", {"email": email, "password": password, "name": "Secret"}),
        api.post("/v1/users", {"email": email, "password": password, "name": "Again"}),
        api.post("/v1/users", {"email": "not-an-email", "password": password, "name": "Bad"}),
        api.post("/v1/users", {"email": email, "password": password, "name": "X",
                               "is_admin": True}),
        api.post("/v1/auth/token", {"email": email, "password": password}),
        api.post("/v1/auth/token", {"email": email, "password": wrong}),
        api.post("/v1/auth/token", {"email": f"x{email}", "password": password}),
        api.post("/v1/auth/token", {"email": email, "password": password, "extra": 1}),
    ]
    assert [r.status_code for r in responses[:2]] == [201, 409]
    assert responses[4].status_code == 200 and responses[5].status_code == 401
    token = responses[4].json()["access_token"]
    responses.append(Api(api.base_url, token).get(ME))
    assert responses[-1].status_code == 200

    for response in responses:
        seen = response.text + json.dumps(dict(response.headers))
        assert password not in seen and wrong not in seen, (
            f"{response.request.method} {response.url}: {response.text}")
        assert "password" not in (response.json() if response.status_code < 300 else {})
    log = system.log_text()
    assert "/v1/auth/token" in log  # the log does record these requests
    assert password not in log and wrong not in log
