"""Fuzzing the gateway from its own OpenAPI document (schemathesis).

Every operation the running system's `/v1/openapi.json` describes gets
`scaled(25, 300)` requests that schemathesis generates from the document:
valid ones and invalid ones (negative mode, wherever the operation takes
input), aimed at the real rows of an event that has a child of every kind,
an image, a sponsor logo, two invites and a member (a coorganizer, who
accepted an invite), and at made-up ones; the bodies
that need a mailed link carry real ones (an invitation of the owner's to
another user's event, a newcomer's verification, a password reset). The
same requests go twice: with a stranger's bearer token (their email not
verified), then with the owner's (verified).

No answer may be a server error (5xx) but a refusal of work the service
bounds (`PasswordsBusy`, `ImagesBusy`: 503 with `Retry-After`, sent
eight at a time as the cases are), and every answer must conform to the
document: a documented status, its content type, its body's schema.
A stranger's run must change none of the owner's rows; the owner's must
reach every operation (a 2xx at least once), so the fuzzing is known to
get past the 404s and 422s.

Cases are generated first (Hypothesis, no shrinking: every failure is
counted and the first few of each operation are shown with their
request), then sent eight at a time, in stages that keep the real rows
alive while an operation needs them: reads, creates, updates, uploads,
then deletes (images and logos, then children and invites, then the
event), and signing out last (it ends the run's token).
"""
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlparse

import eventlet
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from contracts.media.errors import ImagesBusy
from contracts.roles.errors import PasswordsBusy
from tests.e2e.helpers import CHILD_UPDATES, KINDS, child_body, png
from tests.reliability.conftest import scaled
from tests.support.http import (
    ACCEPT_PATH,
    PASSWORD,
    RESET_PATH,
    VERIFY_PATH,
    User,
    expect,
    ok,
    sign_up,
)

EXAMPLES = scaled(25, 300)
CONCURRENCY = 8
SHOWN = 3  # failing requests shown per operation and kind of failure
# a receiver on loopback (allowed in tests) that is not there: deliveries fail, retried
WEBHOOK = {"url": "http://127.0.0.1:9/hook", "events": ["event.copied"]}
EVENT = {"name": "FuzzConf", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00", "state": "published"}
CONFORMANCE = [status_code_conformance, content_type_conformance,
               response_headers_conformance, response_schema_conformance]
GENERATION = hypothesis.settings(
    max_examples=EXAMPLES, deadline=None, database=None, phases=[hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck))
# each case carries this; a run sends its own token instead (else
# schemathesis would make up an Authorization header of its own)
PLACEHOLDER = {"Authorization": "Bearer <token>"}
_numbers = itertools.count(1)


@dataclass
class World:
    """The owner's event and one row of every kind, to aim requests at."""

    owner: User
    stranger: User
    event: dict
    children: dict  # kind -> id
    invite_id: int
    other_invite: dict  # a second pending invite of the event
    media_key: str  # of a live image
    links: dict  # path -> the token of a live link mailed for it
    member_id: int  # a coorganizer of the event, by an invite accepted
    webhook_id: int  # of the event, to a receiver on loopback that is not there
    delivery_id: int  # its ping


@dataclass
class Tally:
    """What a run saw: every failure is counted; the first SHOWN of each
    operation and kind are kept as lines to show."""

    cases: int = 0
    answers: Counter = field(default_factory=Counter)  # "2xx" -> count
    reached: set = field(default_factory=set)  # operations that answered a 2xx
    failures: Counter = field(default_factory=Counter)  # kind -> count
    shown: dict = field(default_factory=dict)  # kind -> [line]
    _per_operation: Counter = field(default_factory=Counter)

    def fail(self, kind, case, response, detail=""):
        self.failures[kind] += 1
        self._per_operation[kind, case.operation.label] += 1
        if self._per_operation[kind, case.operation.label] <= SHOWN:
            self.shown.setdefault(kind, []).append(describe(case, response) + detail)

    def lines(self, kind):
        return f"{self.failures[kind]} {kind}:\n" + "\n".join(self.shown.get(kind, []))


def describe(case, response):
    """The request (as sent, if it was answered) and its answer."""
    body = case.body if isinstance(case.body, dict | list | str | None) else "<bytes>"
    url = response.request.url if response is not None else case.formatted_path
    answer = ("no answer" if response is None else
              f"{response.status_code} {response.content[:300].decode(errors='replace')}")
    return (f"\n{case.method.upper()} {url} body={json.dumps(body, default=str)[:300]}"
            f"\n  -> {answer}")


def email(name):
    return f"{name}.{time.monotonic_ns()}.{next(_numbers)}@example.org"


@pytest.fixture(scope="module")
def world(system):
    api, mailbox = system.api, system.mailbox
    owner, stranger = sign_up(api, "owner", mailbox=mailbox), sign_up(api, "stranger")
    allow_another_verification_mail(system, stranger)  # so that it may ask for one (202)
    as_owner = api.as_user(owner.token)
    event = ok(as_owner.post("/v1/events", EVENT), 201)
    children = {}
    for kind in KINDS:
        body = child_body(kind, children.get("tickets"))
        children[kind] = ok(as_owner.post(f"/v1/events/{event['id']}/{kind}", body), 201)["id"]
    image = {"data": png(), "headers": {"Content-Type": "image/png"}}
    ok(as_owner.put(f"/v1/events/{event['id']}/images/original", **image))
    ok(as_owner.put(f"/v1/sponsors/{children['sponsors']}/logo", **image))
    invites = [ok(as_owner.post(f"/v1/events/{event['id']}/role-invites",
                                {"email": email("invitee"), "role": "coorganizer"}), 201)
               for _ in range(2)]
    event = ok(as_owner.get(f"/v1/events/{event['id']}"))
    key = urlparse(event["original_image_url"]).path.rsplit("/", 1)[1]
    member = sign_up(api, "member", mailbox=mailbox)
    joining = ok(as_owner.post(f"/v1/events/{event['id']}/role-invites",
                               {"email": member.email, "role": "coorganizer"}), 201)
    ok(member.api.patch(f"/v1/role-invites/{joining['id']}", {"status": "accepted"}))
    host, newcomer, forgetful = (sign_up(api, name) for name in ("host", "newcomer", "forgetful"))
    hosted = ok(host.api.post("/v1/events", EVENT), 201)
    ok(host.api.post(f"/v1/events/{hosted['id']}/role-invites",
                     {"email": owner.email, "role": "coorganizer"}), 201)
    expect(api.post("/v1/auth/password-reset", {"email": forgetful.email}), 202)
    links = {path: mailbox.link_token(mailbox.wait_for(to=email, subject_contains=subject),
                                      path)
             for path, email, subject in ((ACCEPT_PATH, owner.email, "invites you"),
                                          (VERIFY_PATH, newcomer.email, "Verify"),
                                          (RESET_PATH, forgetful.email, "Reset"))}
    webhook = ok(as_owner.post(f"/v1/events/{event['id']}/webhooks", WEBHOOK), 201)
    ping = ok(as_owner.post(f"/v1/events/{event['id']}/webhooks/{webhook['id']}/test"), 202)
    return World(owner, stranger, event, children, invites[0]["id"], invites[1], key, links,
                 member.id, webhook["id"], ping["id"])


def allow_another_verification_mail(system, person):
    """A verification mail may be asked for once a minute, counting from
    sign-up: as if the person had signed up an hour ago."""
    with system.engine("roles").begin() as db:
        db.execute(text("UPDATE users SET verification_requested_at = now()"
                        " - interval '1 hour' WHERE id = :id"), {"id": person.id})


@pytest.fixture(scope="module")
def operations(system):
    """The operations of the document the running system serves. Loaded
    as a dict: loaded from its URL, schemathesis would leave out the
    operation that serves it, and that one is fuzzed too."""
    document = ok(system.api.get("/v1/openapi.json"))
    return [result.ok() for result in schemathesis.openapi.from_dict(document)
            .get_all_operations()]


@pytest.fixture(scope="module")
def reached():
    """Operations that answered a 2xx, in either run (a body sent twice, as
    a sign-up, succeeds once)."""
    return set()


@pytest.fixture(scope="module")
def stages(operations, world):
    """Every operation's generated cases, in the stages they are sent in."""
    stages = {}
    for operation in operations:
        stages.setdefault(stage(operation), []).extend(generated(operation, world))
    return [stages[number] for number in sorted(stages)]


# what the cases aim at

def kind_of(operation):
    """The kind of child the operation's path names, if any."""
    return next((part for part in operation.path.split("/") if part in KINDS), None)


def real_parameters(operation, world):
    """The operation's path parameters naming the world's rows: one set per
    way to name the event (its id, its identifier)."""
    values = {"child_id": world.children.get(kind_of(operation)),
              "sponsor_id": world.children["sponsors"], "invite_id": world.invite_id,
              "key": world.media_key, "user_id": world.member_id,
              "webhook_id": world.webhook_id, "delivery_id": world.delivery_id}
    names = [parameter.name for parameter in operation.path_parameters]
    fixed = {name: values[name] for name in names if name in values}
    if "event" not in names:
        return [fixed]
    return [{**fixed, "event": str(world.event["id"])},
            {**fixed, "event": world.event["identifier"]}]


def valid_bodies(operation, world):
    """Bodies the operation takes, so that the fuzzing reaches its success
    path too (generated bodies rarely pass every validator), and bodies
    naming the world's data (another invite's email: a conflict)."""
    method, path, kind = operation.method.upper(), operation.path, kind_of(operation)
    if method == "POST" and kind:
        return [child_body(kind, world.children["tickets"])]
    if method == "PATCH" and kind:
        return [CHILD_UPDATES[kind]]
    return {
        ("POST", "/v1/users"): [{"email": email("fuzz"), "password": PASSWORD, "name": "Fuzz"}],
        ("POST", "/v1/auth/token"): [{"email": world.owner.email, "password": PASSWORD}],
        ("POST", "/v1/events"): [EVENT],
        ("PATCH", "/v1/events/{event}"): [{"description": "fuzzed"}],
        ("POST", "/v1/events/{event}/copy"): [{"name": "FuzzConf, again"}],
        ("POST", "/v1/events/{event}/role-invites"): [
            {"email": email("invitee"), "role": "organizer"},
            {"email": world.other_invite["email"], "role": "moderator"}],
        ("PATCH", "/v1/role-invites/{invite_id}"): [
            {"role": "moderator"}, {"email": world.other_invite["email"]}],
        ("PUT", "/v1/events/{event}/images/{slot}"): [png()],
        ("PUT", "/v1/sponsors/{sponsor_id}/logo"): [png()],
        ("PATCH", "/v1/users/me"): [{"name": "Fuzzed"}],
        ("PATCH", "/v1/events/{event}/roles/{user_id}"): [{"role": "organizer"}],
        ("POST", "/v1/events/{event}/webhooks"): [WEBHOOK],
        ("PATCH", "/v1/events/{event}/webhooks/{webhook_id}"): [{"description": "fuzzed"}],
        ("POST", "/v1/role-invites/accept"): [{"token": world.links[ACCEPT_PATH]}],
        ("POST", "/v1/users/verify-email"): [{"token": world.links[VERIFY_PATH]}],
        # not the forgetful's email: a link asked for anew would kill theirs
        ("POST", "/v1/auth/password-reset"): [{"email": email("nobody")}],
        ("POST", "/v1/auth/password-reset/confirm"): [
            {"token": world.links[RESET_PATH], "password": "a fuzzed password"}],
    }.get((method, path), [])


def strategy(operation, world):
    """Valid and invalid cases, aimed at the world's rows or at made-up ones,
    and the valid bodies aimed at the world's rows."""
    real = real_parameters(operation, world)
    strategies = [operation.as_strategy(mode, path_parameters=values, headers=PLACEHOLDER)
                  for values in [*real, None]
                  for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    for body in valid_bodies(operation, world):
        media_type = "image/png" if isinstance(body, bytes) else "application/json"
        strategies += [operation.as_strategy(path_parameters=values, headers=PLACEHOLDER,
                                             body=body, media_type=media_type)
                       for values in real]
    return st.one_of(strategies)


def generated(operation, world):
    cases = []

    @GENERATION
    @hypothesis.given(case=strategy(operation, world))
    def generate(case):
        cases.append(case)

    generate()
    return cases


def stage(operation):
    """Reads, creates, updates, uploads; then deletes: images and logos,
    then children and invites, then the event; signing out last."""
    method = operation.method.upper()
    if operation.path == "/v1/auth/logout":
        return 7
    if method != "DELETE":
        return ("GET", "POST", "PATCH", "PUT").index(method)
    if operation.path == "/v1/events/{event}":
        return 6
    return 4 if operation.path.count("/") > 3 else 5


# sending them and checking the answers

def fuzz(system, stages, world, person, reached):
    tally = Tally(reached=reached)
    headers = {"Authorization": f"Bearer {person.token}"}

    def send(case):
        try:
            return case, case.call(base_url=system.base_url, headers=headers, timeout=30), None
        except requests.RequestException as exc:  # no answer: as bad as a 5xx
            return case, None, exc

    pool = eventlet.GreenPool(CONCURRENCY)
    for cases in stages:
        for case, response, error in pool.imap(send, cases):
            if error is not None:
                tally.cases += 1
                tally.fail("server errors", case, None, f" ({error!r})")
                continue
            check(tally, case, response, stranger=person is world.stranger, world=world)
    return tally


def check(tally, case, response, stranger, world):
    tally.cases += 1
    tally.answers[f"{response.status_code // 100}xx"] += 1
    if 200 <= response.status_code < 300:
        tally.reached.add(case.operation.label)
        if stranger and changes_owned_row(case, world):
            tally.fail("trespasses", case, response)
    if response.status_code >= 500 and not busy(response):
        tally.fail("server errors", case, response)
        return
    try:
        case.validate_response(response, checks=CONFORMANCE)
    except FailureGroup as group:
        tally.fail("conformance failures", case, response, "".join(
            f"\n  {failure.title}: {failure.message[:300]}" for failure in group.exceptions))


BUSY_CODES = {PasswordsBusy.code, ImagesBusy.code}


def busy(response):
    """A refusal of work its service bounds, to be tried again later
    (schemathesis gives the headers lowercase)."""
    if response.status_code != 503 or "retry-after" not in response.headers:
        return False
    try:
        return response.json().get("code") in BUSY_CODES
    except (ValueError, AttributeError):  # not JSON, or not an object
        return False


def changes_owned_row(case, world):
    if case.method.upper() == "GET":
        return False
    owned = {"event": {str(world.event["id"]), world.event["identifier"]},
             "child_id": {world.children.get(kind_of(case.operation))},
             "sponsor_id": {world.children["sponsors"]}, "invite_id": {world.invite_id},
             "user_id": {world.member_id}, "webhook_id": {world.webhook_id}}
    return any(value in owned.get(name, ()) for name, value in case.path_parameters.items())


# the stranger first: their run changes nothing, the owner's deletes the event
@pytest.mark.timeout(scaled(300, 3600))
@pytest.mark.parametrize("who", ["stranger", "owner"])
def test_no_request_is_a_server_error_and_every_answer_is_documented(
        system, operations, stages, world, reached, who, report):
    tally = fuzz(system, stages, world, getattr(world, who), reached)

    unreached = sorted({op.label for op in operations} - reached) if who == "owner" else []
    report(scenario=f"fuzz ({who})", operations=len(operations), cases=tally.cases,
           answers=dict(sorted(tally.answers.items())),
           server_errors=tally.failures["server errors"],
           conformance_failures=tally.failures["conformance failures"],
           trespasses=tally.failures["trespasses"],
           passed=not tally.failures and not unreached)
    assert not tally.failures["server errors"], tally.lines("server errors")
    assert not tally.failures["conformance failures"], tally.lines("conformance failures")
    assert not tally.failures["trespasses"], tally.lines("trespasses")
    assert not unreached, f"no case of these operations succeeded: {unreached}"
