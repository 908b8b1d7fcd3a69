"""The one HTTP client of the tests, the benchmarks and `make demo`:
`Api(base_url)` anonymous, `api.as_user(token)` signed in; calls answer the
`requests` response, and `ok(response, status)` its JSON once the status is
as expected. `sign_up(api, name)` makes a user: signed up, signed in; with
a `mailbox`, also verified by the link mailed to them.
"""
import itertools
import time
import uuid
from dataclasses import dataclass

import eventlet
import requests

PASSWORD = "correct horse battery"  # every user `sign_up` makes has it
VERIFY_PATH, ACCEPT_PATH, RESET_PATH = "/verify-email", "/role-invites/accept", "/reset-password"

_run = uuid.uuid4().hex[:8]  # this process's users' emails: unique across runs
_numbers = itertools.count(1)


class Api:
    def __init__(self, base_url, token=None, timeout=30):
        self.base_url = base_url
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def as_user(self, token):
        """A client of its own (its own connections), signed in with `token`."""
        return Api(self.base_url, token, self.timeout)

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


class UnexpectedAnswer(AssertionError):
    """An answer of another status than the one expected."""


def expect(response, status=200):
    """The response, once its status is as expected (else the request, the
    status, the request id and the body show)."""
    if response.status_code != status:
        request = response.request
        raise UnexpectedAnswer(
            f"{request.method} {request.path_url} answered {response.status_code}"
            f" (X-Request-Id {response.headers.get('X-Request-Id')}): {response.text}")
    return response


def patiently(request, timeout=120):
    """`request()` as a careful client sends it to a busy system: again
    after a 503 once its `Retry-After` has passed (heavy work's bounded
    pools turn the excess away), until the deadline; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        response = request()
        if response.status_code != 503 or time.monotonic() >= deadline:
            return response
        eventlet.sleep(float(response.headers.get("Retry-After", 1)))


def ok(response, status=200):
    """The JSON answer (None when empty), once the status is as expected."""
    expect(response, status)
    return response.json() if response.content else None


@dataclass
class User:
    """A signed-up, signed-in user: `api` carries their bearer token."""

    id: int
    email: str
    token: str
    api: Api
    expires_in: int

    def session(self):
        """Another client signed in as them (its own connections)."""
        return self.api.as_user(self.token)


def sign_up(api, name="user", send=patiently, mailbox=None):
    """Sign `name` up (`POST /v1/users`, with `PASSWORD` and an email of its
    own) and in (`POST /v1/auth/token`) over the anonymous `api`; with a
    `mailbox` (`tests.support.mailbox`), verify the email by the mailed
    link. `send` sends each request (by default `patiently`)."""
    email = f"{name.lower()}.{_run}.{next(_numbers)}@example.org"
    user = ok(send(lambda: api.post("/v1/users", {"email": email, "password": PASSWORD,
                                                  "name": name.title()})), 201)
    if mailbox is not None:
        verify_email(api, mailbox, email, send)
    token = ok(send(lambda: api.post("/v1/auth/token", {"email": email, "password": PASSWORD})))
    return User(user["id"], email, token["access_token"], api.as_user(token["access_token"]),
                token["expires_in"])


def verify_email(api, mailbox, email, send=lambda request: request()):
    """Follow the verification link mailed to `email`: the verified user."""
    mail = mailbox.wait_for(to=email, subject_contains="Verify")
    token = mailbox.link_token(mail, VERIFY_PATH)
    return ok(send(lambda: api.post("/v1/users/verify-email", {"token": token})))
