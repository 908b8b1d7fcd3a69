"""The route table's "who may", end to end: every route the gateway serves,
asked over HTTP by each kind of caller, answers as the tables below say.

The callers: `anonymous` (no token), a `stranger` (signed in, no role), a
member of every role on the event (`registrar`, `moderator`,
`track_organizer`, `coorganizer`, `organizer`, `owner`), and an `admin` (the
admin flag, no role on the event). Roles are got as a user gets them: the
owner creates the event, invites an email, and its user, whose email is
verified, accepts. Which check guards a route is stated here; who passes
it is the table of powers (`contracts.powers`, which a unit test holds to
the rules): a route that needs a check answers its success to the roles
passing it and to the admin, 403 to other signed-in callers, 401 to
anonymous ones. The invite routes have two callers more: the `invitee`, whose
email is verified, and an `unverified invitee` (an email counts for nothing
until its owner has followed the mailed link); the account routes are asked
by `anonymous`, an `unverified` and a `verified` user.

Allowed: the route's success status, and it did its job. Anonymous where a
sign-in or a role is needed: 401 problem+json with `WWW-Authenticate`.
Signed in without the role: 403 problem+json, code `permission_denied`
(`email_not_verified` where the table says `UNVERIFIED`). A refused request
changes nothing: the owner reads the same before and after.

The reads share one read-only world per module (a draft, a published public
and a published private event, each with the team and one child of every
kind); every case of a route that changes something gets things of its
own to change (an event of its own when the change is the event's).
"""
import json
import uuid
from dataclasses import dataclass
from functools import cached_property

import pytest
from sqlalchemy import text

from contracts.events.schemas import PUBLIC_VIEWS
from contracts.powers import CHILD_POWERS, PERMISSIONS
from contracts.vocabulary import Permission
from tests.e2e.helpers import CHILD_UPDATES, KINDS, assert_problem, child_body, png
from tests.support.http import ACCEPT_PATH, PASSWORD, RESET_PATH, VERIFY_PATH, ok
from tests.support.tap import wait_until


@dataclass(frozen=True)
class Refusal:
    """An expected refusal with a code of its own (a plain 403 in a table
    means `permission_denied`)."""

    status: int
    code: str

    def __str__(self):
        return f"{self.status} {self.code}"


UNVERIFIED = Refusal(403, "email_not_verified")  # the caller's email would do, once verified
VERIFIED_ALREADY = Refusal(409, "email_already_verified")

CALLERS = ("anonymous", "stranger", "registrar", "moderator", "track_organizer",
           "coorganizer", "organizer", "owner", "admin")
INVITED = CALLERS[2:-2]  # the callers whose role comes by an invite
SLOTS = ("original", "logo")
SLOT_FIELDS = {"original": "original_image_url", "logo": "logo_url"}


def passes(caller, permission):
    return caller == "admin" or caller in PERMISSIONS[permission]


def needs(permission, status):
    """Each caller's status on a route that needs `permission`."""
    return tuple(401 if caller == "anonymous" else status if passes(caller, permission)
                 else 403 for caller in CALLERS)


def anyone(status):
    return (status,) * len(CALLERS)


def signed_in(status):
    return (401, *(status,) * (len(CALLERS) - 1))


P = Permission
WEBHOOKS = "/v1/events/{event}/webhooks"
WEBHOOK = WEBHOOKS + "/{webhook_id}"
# a webhook no message reaches (it asks for event.deleted), at a loopback port
HOOK = {"url": "http://127.0.0.1:9/matrix", "events": ["event.deleted"], "description": "m"}
STATE_ALONE, CHECK_IN = {"state": "accepted"}, {"checked_in": True}
# route → the status each caller gets (a function of the kind for a route
# asked for every kind). A route with {slot} is asked for every image slot.
MATRIX = {
    "POST /v1/users":                                     anyone(201),
    "POST /v1/auth/token":                                anyone(200),
    "GET /v1/users/me":                                   signed_in(200),
    "POST /v1/events":                                    signed_in(201),
    "GET /v1/events/{event} (a draft)":                   needs(P.IS_TEAM_MEMBER, 200),
    "GET /v1/events/{event} (published, public)":         anyone(200),
    "GET /v1/events/{event} (published, private)":        needs(P.IS_TEAM_MEMBER, 200),
    "PATCH /v1/events/{event}":                           needs(P.IS_ORGANIZER, 200),
    "DELETE /v1/events/{event}":                          needs(P.IS_OWNER, 204),
    "POST /v1/events/{event}/{kind}":     lambda kind: needs(CHILD_POWERS[kind].write, 201),
    "PATCH /v1/{kind}/{child_id}":        lambda kind: needs(
        CHILD_POWERS[kind].to_update(CHILD_UPDATES[kind]), 200),
    "PATCH /v1/sessions/{child_id} (its state alone)":    needs(P.REVIEWS_SESSIONS, 200),
    "PATCH /v1/sessions/{child_id} (its state and title)": needs(P.MANAGES_PROGRAM, 200),
    "PATCH /v1/attendees/{child_id} (check in)":          needs(P.CHECKS_IN, 200),
    "PATCH /v1/attendees/{child_id} (check in, rename)":  needs(P.IS_ORGANIZER, 200),
    "DELETE /v1/{kind}/{child_id}":       lambda kind: needs(CHILD_POWERS[kind].write, 204),
    "POST /v1/events/{event}/copy":                       needs(P.IS_COORGANIZER, 201),
    "PUT /v1/events/{event}/images/{slot}":               needs(P.IS_ORGANIZER, 200),
    "DELETE /v1/events/{event}/images/{slot}":            needs(P.IS_ORGANIZER, 204),
    "PUT /v1/sponsors/{sponsor_id}/logo":                 needs(P.IS_ORGANIZER, 200),
    "DELETE /v1/sponsors/{sponsor_id}/logo":              needs(P.IS_ORGANIZER, 204),
    "GET /media/{key}":                                   anyone(200),
    "POST /v1/events/{event}/role-invites (coorganizer)": needs(P.IS_ORGANIZER, 201),
    "POST /v1/events/{event}/role-invites (organizer)":   needs(P.IS_ORGANIZER, 201),
    "POST /v1/events/{event}/role-invites (owner)":       needs(P.IS_OWNER, 201),
    "GET /v1/events/{event}/role-invites":                needs(P.IS_COORGANIZER, 200),
    "GET /v1/events/{event}/roles":                       needs(P.IS_COORGANIZER, 200),
    "GET /v1/health":                                     anyone(200),
    "GET /v1/openapi.json":                               anyone(200),
    "GET /v1/asyncapi.json":                              anyone(200),
    f"POST {WEBHOOKS}":                                   needs(P.IS_ORGANIZER, 201),
    f"GET {WEBHOOKS}":                                    needs(P.IS_ORGANIZER, 200),
    f"GET {WEBHOOK}":                                     needs(P.IS_ORGANIZER, 200),
    f"PATCH {WEBHOOK}":                                   needs(P.IS_ORGANIZER, 200),
    f"DELETE {WEBHOOK}":                                  needs(P.IS_ORGANIZER, 204),
    f"POST {WEBHOOK}/test":                               needs(P.IS_ORGANIZER, 202),
    f"GET {WEBHOOK}/deliveries":                          needs(P.IS_ORGANIZER, 200),
    f"POST {WEBHOOK}/deliveries/{{delivery_id}}/retry":   needs(P.IS_ORGANIZER, 202),
}
# the partial updates that lesser roles may make, asked beside the full one
PARTIAL_UPDATES = {
    "PATCH /v1/sessions/{child_id} (its state alone)": ("sessions", STATE_ALONE),
    "PATCH /v1/sessions/{child_id} (its state and title)": (
        "sessions", {**STATE_ALONE, "title": "Retitled"}),
    "PATCH /v1/attendees/{child_id} (check in)": ("attendees", CHECK_IN),
    "PATCH /v1/attendees/{child_id} (check in, rename)": (
        "attendees", {**CHECK_IN, "firstname": "Renamed"}),
}

# Reading an event's children, as a list (GET /v1/events/{event}/{kind})
# and one by one (GET /v1/{kind}/{child_id}): the kind's readers see the
# team's view; on a published, public event anyone reads a public kind (in
# its public view); any other reader is refused.


def readers(kind, state):
    if state == "public" and kind in PUBLIC_VIEWS:
        return anyone(200)
    return needs(CHILD_POWERS[kind].read, 200)


READERS = {state: {kind: readers(kind, state) for kind in KINDS}
           for state in ("draft", "public", "private")}
CHILD_READS = ("GET /v1/events/{event}/{kind}", "GET /v1/{kind}/{child_id}")

# The invite routes, whose rules live in the roles service; `invitee` is
# the user whose email the invite names (signed in, no role, the email
# verified), `unverified invitee` the same before following the mailed
# link; "owner": the invite offers the owner role; `POST …/accept`: the
# token of the link mailed to the invitee is sent (by whoever the caller is).
INVITE_CALLERS = (*CALLERS, "invitee", "unverified invitee")
NV = UNVERIFIED
ONE, BY_LINK = "/v1/role-invites/{invite_id}", "/v1/role-invites/accept"
#                                      anon strg regs modr trck coor org  ownr admn invt unvf
INVITE_MATRIX = {
    f"GET {ONE}":                         (401, 403, 403, 403, 403, 200, 200, 200, 200, 200, NV),
    f"PATCH {ONE} accept":                (401, 403, 403, 403, 403, 403, 403, 403, 403, 200, NV),
    f"PATCH {ONE} decline":               (401, 403, 403, 403, 403, 403, 403, 403, 403, 200, NV),
    f"PATCH {ONE} accept, owner":         (401, 403, 403, 403, 403, 403, 403, 403, 403, 200, NV),
    f"PATCH {ONE} amend role":            (401, 403, 403, 403, 403, 403, 200, 200, 200, 403, 403),
    f"PATCH {ONE} amend email":           (401, 403, 403, 403, 403, 403, 200, 200, 200, 403, 403),
    f"PATCH {ONE} amend role to owner":   (401, 403, 403, 403, 403, 403, 403, 200, 200, 403, 403),
    f"PATCH {ONE} amend, owner":          (401, 403, 403, 403, 403, 403, 403, 200, 200, 403, 403),
    f"DELETE {ONE}":                      (401, 403, 403, 403, 403, 403, 204, 204, 204, 403, 403),
    f"DELETE {ONE} owner":                (401, 403, 403, 403, 403, 403, 403, 204, 204, 403, 403),
    f"POST {BY_LINK} accept":             (401, 403, 403, 403, 403, 403, 403, 403, 403, 200, NV),
    f"POST {BY_LINK} decline":            (401, 403, 403, 403, 403, 403, 403, 403, 403, 200, NV),
    f"POST {BY_LINK} accept, owner":      (401, 403, 403, 403, 403, 403, 403, 403, 403, 200, NV),
    f"POST {ONE}/resend":                 (401, 403, 403, 403, 403, 403, 202, 202, 202, 403, 403),
    f"POST {ONE}/resend owner":           (401, 403, 403, 403, 403, 403, 403, 202, 202, 403, 403),
}

# Running a team: each case acts on a registrar of its own on the
# workbench (the coorganizer and organizer on its team), or on its owner;
# `member` is that registrar, acting on themselves.
TEAM_CALLERS = (*CALLERS, "member")
MEMBER, FIXED = "/v1/events/{event}/roles/{user_id}", Refusal(409, "owner_role_fixed")
#                                 anon strgr regis moder track coorg org    owner  admin  member
TEAM_MATRIX = {
    f"PATCH {MEMBER}":              (401, 403, 403, 403, 403, 403, 200,   200,   200,   403),
    f"PATCH {MEMBER} the owner":    (401, 403, 403, 403, 403, 403, FIXED, FIXED, FIXED, 403),
    f"DELETE {MEMBER}":             (401, 403, 403, 403, 403, 403, 204,   204,   204,   204),
    f"DELETE {MEMBER} the owner":   (401, 403, 403, 403, 403, 403, FIXED, FIXED, FIXED, 403),
    "GET /v1/events":               (401, 200, 200, 200, 200, 200, 200,   200,   200,   200),
}

# The account routes: who may depends on being signed in and on the email
# being verified, not on any role. Each case is a user of its own: signing
# out, a new name or password, a mailed link change the user.
ACCOUNT_CALLERS = ("anonymous", "unverified", "verified")
#                                         anonymous unverified  verified
ACCOUNT_MATRIX = {
    "POST /v1/auth/logout":                 (401,      204,        204),
    "PATCH /v1/users/me":                   (401,      200,        200),
    "POST /v1/users/me/verify-email":       (401,      202,        VERIFIED_ALREADY),
    "GET /v1/users/me/role-invites":        (401,      UNVERIFIED, 200),
    "POST /v1/users/verify-email":          (200,      200,        200),  # with the token
    "POST /v1/auth/password-reset":         (202,      202,        202),
    "POST /v1/auth/password-reset/confirm": (204,      204,        204),  # with the token
}
# the subjects of the mails the notifications service sends
SUBJECTS = {VERIFY_PATH: "Verify your email", ACCEPT_PATH: "invites you to the team of",
            RESET_PATH: "Reset your"}
NEW_PASSWORD = "a brand new staple"

EVENT = {"name": "Matrix Summit", "starts_at": "2030-03-14T09:00:00+08:00",
         "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore"}
WORLD_STATES = {"draft": {}, "public": {"state": "published"},
                "private": {"state": "published", "privacy": "private"}}


def _variants(route):
    if "{kind}" in route:
        return KINDS
    if "{slot}" in route:
        return SLOTS
    return (None,)


def _cases(matrix, callers):
    return [pytest.param(route, variant, caller, status,
                         id=f"{route}{f' [{variant}]' if variant else ''} by {caller}")
            for route, statuses in matrix.items()
            for variant in _variants(route)
            for caller, status in zip(callers, statuses(variant) if callable(statuses)
                                      else statuses, strict=True)]


def _read_cases():
    return [pytest.param(route, state, kind, caller, status,
                         id=f"{route} [{kind}] of a {state} event by {caller}")
            for route in CHILD_READS
            for state, kinds in READERS.items()
            for kind, statuses in kinds.items()
            for caller, status in zip(CALLERS, statuses, strict=True)]


class Stage:
    """The people, and the events they act on. `world` (read-only) and
    `workbench` (an event that gathers fresh children and invites) are
    built when first asked for."""

    def __init__(self, anonymous, cast, new_user, mailbox, system):
        self.anonymous, self.cast, self.new_user = anonymous, cast, new_user
        self.mailbox, self.system = mailbox, system
        self.owner = cast["owner"].api

    def api(self, caller, invitee=None):
        if caller == "anonymous":
            return self.anonymous
        if caller in ("invitee", "unverified invitee"):
            return invitee.api
        return self.cast[caller].api

    def links(self, email, path, count=1):
        """The tokens of the links to `path` mailed to `email`, oldest
        first, once `count` of them have arrived."""
        def mailed():
            tokens = [self.mailbox.link_token(mail, path) for mail in self.mailbox.mails(email)
                      if SUBJECTS[path] in mail["subject"]]
            return tokens if len(tokens) >= count else None
        return wait_until(mailed, timeout=15)

    def link(self, email, path):
        """The token of the (newest) link to `path` mailed to `email`."""
        return self.links(email, path)[-1]

    def allow_another_verification_mail(self, person):
        """A verification mail may be asked for once a minute, counting from
        sign-up: as if the person had signed up an hour ago."""
        with self.system.engine("roles").begin() as db:
            db.execute(text("UPDATE users SET verification_requested_at = now()"
                            " - interval '1 hour' WHERE id = :id"), {"id": person.id})

    def seen(self, path):
        """What the owner reads at `path`: (status, body)."""
        response = self.owner.get(path)
        return response.status_code, response.json() if response.content else None

    def serves(self, url):
        """The status of a media URL, asked anonymously."""
        return self.anonymous.get(url[url.index("/media/"):]).status_code

    def event(self, team=(), **fields):
        """A new event of the owner's, with `team` (the cast's members of
        those roles) invited and accepted."""
        event = ok(self.owner.post("/v1/events", {**EVENT, **fields}), 201)
        for role in team:
            self.give_role(event, self.cast[role], role)
        return event

    def fresh_event(self, caller, **fields):
        """A new event on which `caller` holds the role it is named for."""
        return self.event(team=[caller] if caller in INVITED else [], **fields)

    def give_role(self, event, person, role):
        invite = self.invite(event, person.email, role)
        accepted = ok(person.api.patch(f"/v1/role-invites/{invite['id']}",
                                       {"status": "accepted"}))
        assert accepted["role_granted"] is True, accepted

    def invite(self, event, email, role):
        return ok(self.owner.post(f"/v1/events/{event['id']}/role-invites",
                                  {"email": email, "role": role}), 201)

    def child(self, event, kind, ticket_id=None):
        if kind == "attendees" and ticket_id is None:
            ticket_id = self.child(event, "tickets")["id"]
        return ok(self.owner.post(f"/v1/events/{event['id']}/{kind}",
                                  child_body(kind, ticket_id)), 201)

    def upload(self, path):
        return ok(self.owner.put(path, data=png(), headers={"Content-Type": "image/png"}))

    @cached_property
    def world(self):
        """state → (event, {kind: child}), each event with the coorganizer
        and organizer on its team; the public one has an image."""
        world = {}
        for state, fields in WORLD_STATES.items():
            event = self.event(team=INVITED)
            children = {}
            for kind in KINDS:
                children[kind] = self.child(event, kind, children.get("tickets", {}).get("id"))
            # an accepted session with its speaker: what a public view shows
            children["sessions"] = ok(self.owner.patch(
                f"/v1/sessions/{children['sessions']['id']}",
                {"state": "accepted", "speaker_ids": [children["speakers"]["id"]]}))
            if state == "public":
                self.upload(f"/v1/events/{event['id']}/images/original")
            if fields:
                event = ok(self.owner.patch(f"/v1/events/{event['id']}", fields))
            world[state] = event, children
        return world

    @cached_property
    def workbench(self):
        return self.event(team=INVITED)


@pytest.fixture(scope="module")
def cast(new_user, make_admin):
    """The callers; those who accept invites to their roles have verified
    their email (by the mailed link), as they must."""
    people = {role: new_user(role, verified=role in INVITED)
              for role in ("stranger", *INVITED, "owner")}
    people["admin"] = make_admin(new_user("admin"))
    return people


@pytest.fixture(scope="module")
def stage(api, cast, new_user, mailbox, system):
    return Stage(api, cast, new_user, mailbox, system)


def judge(response, expected, *, shows=None, state=None, before=None, then=None):
    """`response` is `expected` (a status, or a `Refusal`). Allowed: its
    body holds `shows` and `then()` passes. Refused: a problem, and
    `state()` is still `before`."""
    if isinstance(expected, Refusal):
        expected, code = expected.status, expected.code
    else:
        code = "permission_denied" if expected == 403 else None
    assert response.status_code == expected, (
        f"expected {expected}, got {response.status_code}: {response.text}")
    if expected >= 400:
        assert_problem(response, expected, code)
        if state is not None:
            assert state() == before, "a refused request changed something"
        return
    if shows:
        body = response.json()
        assert {field: body.get(field) for field in shows} == shows, body
    if then is not None:
        then()


# the routes of MATRIX: each scenario asks its route as `caller`

SCENARIOS = {}


def scenario(*routes):
    def register(function):
        SCENARIOS.update(dict.fromkeys(routes, function))
        return function
    return register


@scenario("POST /v1/users")
def _sign_up(stage, route, caller, expected, variant):
    email = f"signup.{uuid.uuid4().hex[:12]}@example.org"
    response = stage.api(caller).post("/v1/users", {"email": email, "password": "s3cret-enough",
                                                    "name": "New"})
    judge(response, expected, shows={"email": email})


@scenario("POST /v1/auth/token")
def _sign_in(stage, route, caller, expected, variant):
    credentials = {"email": f"signin.{uuid.uuid4().hex[:12]}@example.org",
                   "password": "s3cret-enough"}
    ok(stage.anonymous.post("/v1/users", {**credentials, "name": "Signer"}), 201)
    response = stage.api(caller).post("/v1/auth/token", credentials)

    def a_token_that_works():
        token = response.json()["access_token"]
        me = ok(stage.anonymous.as_user(token).get("/v1/users/me"))
        assert me["email"] == credentials["email"]

    judge(response, expected, shows={"token_type": "bearer"}, then=a_token_that_works)


@scenario("GET /v1/users/me")
def _me(stage, route, caller, expected, variant):
    response = stage.api(caller).get("/v1/users/me")
    judge(response, expected,
          shows=None if caller == "anonymous" else {"id": stage.cast[caller].id})


@scenario("POST /v1/events")
def _create_event(stage, route, caller, expected, variant):
    response = stage.api(caller).post("/v1/events", {**EVENT, "name": f"By {caller}"})

    def creator_owns_it():
        event = response.json()
        team = ok(stage.api(caller).get(f"/v1/events/{event['id']}/roles"))["items"]
        assert [(m["user_id"], m["role"]) for m in team] == [(stage.cast[caller].id, "owner")]

    judge(response, expected, shows={"name": f"By {caller}", "state": "draft"},
          then=creator_owns_it)


@scenario("GET /v1/events/{event} (a draft)", "GET /v1/events/{event} (published, public)",
          "GET /v1/events/{event} (published, private)")
def _read_event(stage, route, caller, expected, variant):
    state = {"draft)": "draft", "public)": "public", "private)": "private"}[route.split()[-1]]
    event, _ = stage.world[state]
    response = stage.api(caller).get(f"/v1/events/{event['identifier']}")
    judge(response, expected, shows={"id": event["id"], "state": event["state"],
                                     "privacy": event["privacy"]})


@scenario("PATCH /v1/events/{event}")
def _update_event(stage, route, caller, expected, variant):
    event = stage.fresh_event(caller)
    path = f"/v1/events/{event['id']}"
    before = stage.seen(path)
    change = {"name": "Renamed", "description": f"by {caller}"}
    response = stage.api(caller).patch(path, change)
    judge(response, expected, shows=change, state=lambda: stage.seen(path), before=before,
          then=lambda: _holds(stage.seen(path), change))


@scenario("DELETE /v1/events/{event}")
def _delete_event(stage, route, caller, expected, variant):
    event = stage.fresh_event(caller)
    path = f"/v1/events/{event['identifier']}"
    before = stage.seen(path)
    response = stage.api(caller).delete(path)
    judge(response, expected, state=lambda: stage.seen(path), before=before,
          then=lambda: _status(stage.seen(path), 404))


@scenario("POST /v1/events/{event}/{kind}")
def _create_child(stage, route, caller, expected, kind):
    event = stage.workbench
    ticket_id = stage.child(event, "tickets")["id"] if kind == "attendees" else None
    listing = f"/v1/events/{event['id']}/{kind}?limit=200"
    before = stage.seen(listing)
    response = stage.api(caller).post(f"/v1/events/{event['id']}/{kind}",
                                      child_body(kind, ticket_id))

    def listed():
        _, page = stage.seen(listing)
        assert response.json()["id"] in [child["id"] for child in page["items"]]

    judge(response, expected, shows={"event_id": event["id"]},
          state=lambda: stage.seen(listing), before=before, then=listed)


@scenario("PATCH /v1/{kind}/{child_id}", *PARTIAL_UPDATES)
def _update_child(stage, route, caller, expected, kind):
    kind, change = PARTIAL_UPDATES[route] if kind is None else (kind, CHILD_UPDATES[kind])
    child = stage.child(stage.workbench, kind)
    path = f"/v1/{kind}/{child['id']}"
    before = stage.seen(path)
    response = stage.api(caller).patch(path, change)

    def holds():
        _holds(stage.seen(path), change)
        if change.get("checked_in"):  # the events service says when
            assert stage.seen(path)[1]["checked_in_at"] is not None

    judge(response, expected, shows={"id": child["id"], **change},
          state=lambda: stage.seen(path), before=before, then=holds)


@scenario("DELETE /v1/{kind}/{child_id}")
def _delete_child(stage, route, caller, expected, kind):
    child = stage.child(stage.workbench, kind)
    path = f"/v1/{kind}/{child['id']}"
    before = stage.seen(path)
    response = stage.api(caller).delete(path)
    judge(response, expected, state=lambda: stage.seen(path), before=before,
          then=lambda: _status(stage.seen(path), 404))


@scenario("POST /v1/events/{event}/copy")
def _copy_event(stage, route, caller, expected, variant):
    source = stage.workbench
    path = f"/v1/events/{source['id']}"
    before = stage.seen(path)
    response = stage.api(caller).post(f"{path}/copy", {"name": f"Copied by {caller}"})

    def caller_reads_the_copy():
        copied = response.json()
        assert copied["copied_from"] == {"id": source["id"], "identifier": source["identifier"]}
        ok(stage.api(caller).get(f"/v1/events/{copied['id']}"))
        assert stage.seen(path) == before  # the source is as it was

    judge(response, expected, shows={"copied": True}, state=lambda: stage.seen(path),
          before=before, then=caller_reads_the_copy)


@scenario("PUT /v1/events/{event}/images/{slot}")
def _upload_event_image(stage, route, caller, expected, slot):
    event = stage.fresh_event(caller)
    path = f"/v1/events/{event['id']}"
    before = stage.seen(path)
    response = stage.api(caller).put(f"{path}/images/{slot}", data=png(),
                                     headers={"Content-Type": "image/png"})

    def shown_and_served():
        url = stage.seen(path)[1][SLOT_FIELDS[slot]]
        assert url and stage.serves(url) == 200

    judge(response, expected, shows={"event_id": event["id"]}, state=lambda: stage.seen(path),
          before=before, then=shown_and_served)


@scenario("DELETE /v1/events/{event}/images/{slot}")
def _delete_event_image(stage, route, caller, expected, slot):
    event = stage.fresh_event(caller)
    path = f"/v1/events/{event['id']}"
    stage.upload(f"{path}/images/{slot}")
    url = stage.seen(path)[1][SLOT_FIELDS[slot]]
    assert url, "the owner's upload shows no URL"

    def state():
        return stage.seen(path), stage.serves(url)

    before = state()
    response = stage.api(caller).delete(f"{path}/images/{slot}")

    def gone():
        event_now, served = state()
        assert event_now[1][SLOT_FIELDS[slot]] is None and served == 404

    judge(response, expected, state=state, before=before, then=gone)


@scenario("PUT /v1/sponsors/{sponsor_id}/logo")
def _upload_sponsor_logo(stage, route, caller, expected, variant):
    sponsor = stage.child(stage.workbench, "sponsors")
    path = f"/v1/sponsors/{sponsor['id']}"
    before = stage.seen(path)
    response = stage.api(caller).put(f"{path}/logo", data=png(),
                                     headers={"Content-Type": "image/png"})

    def shown_and_served():
        url = stage.seen(path)[1]["logo_url"]
        assert url and stage.serves(url) == 200

    judge(response, expected, shows={"event_id": stage.workbench["id"]},
          state=lambda: stage.seen(path), before=before, then=shown_and_served)


@scenario("DELETE /v1/sponsors/{sponsor_id}/logo")
def _delete_sponsor_logo(stage, route, caller, expected, variant):
    sponsor = stage.child(stage.workbench, "sponsors")
    path = f"/v1/sponsors/{sponsor['id']}"
    stage.upload(f"{path}/logo")
    url = stage.seen(path)[1]["logo_url"]
    assert url, "the owner's upload shows no URL"

    def state():
        return stage.seen(path), stage.serves(url)

    before = state()
    response = stage.api(caller).delete(f"{path}/logo")

    def gone():
        sponsor_now, served = state()
        assert sponsor_now[1]["logo_url"] is None and served == 404

    judge(response, expected, state=state, before=before, then=gone)


@scenario("GET /media/{key}")
def _read_media(stage, route, caller, expected, variant):
    event, _ = stage.world["public"]
    url = stage.seen(f"/v1/events/{event['id']}")[1]["original_image_url"]
    response = stage.api(caller).get(url[url.index("/media/"):])
    judge(response, expected)
    assert response.headers["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


@scenario("POST /v1/events/{event}/role-invites (coorganizer)",
          "POST /v1/events/{event}/role-invites (organizer)",
          "POST /v1/events/{event}/role-invites (owner)")
def _create_invite(stage, route, caller, expected, variant):
    role = route.split()[-1].strip("()")
    event = stage.workbench
    listing = f"/v1/events/{event['id']}/role-invites?limit=200"
    before = stage.seen(listing)
    email = stage.new_user("invited").email
    response = stage.api(caller).post(f"/v1/events/{event['id']}/role-invites",
                                      {"email": email, "role": role})
    judge(response, expected, shows={"email": email, "role": role, "status": "pending"},
          state=lambda: stage.seen(listing), before=before,
          then=lambda: _never_the_token(response.json()))  # only the mail carries it


@scenario("GET /v1/events/{event}/role-invites")
def _list_invites(stage, route, caller, expected, variant):
    event, _ = stage.world["draft"]
    response = stage.api(caller).get(f"/v1/events/{event['identifier']}/role-invites")

    def the_teams_invites():
        items = response.json()["items"]
        assert sorted((i["email"], i["role"], i["status"]) for i in items) == sorted(
            (stage.cast[role].email, role, "accepted") for role in INVITED)
        assert all("token" not in item for item in items)

    judge(response, expected, shows={"total": len(INVITED)}, then=the_teams_invites)


@scenario("GET /v1/events/{event}/roles")
def _list_team(stage, route, caller, expected, variant):
    event, _ = stage.world["draft"]
    response = stage.api(caller).get(f"/v1/events/{event['identifier']}/roles")

    def the_team():
        team = {(m["user_id"], m["email"], m["role"]) for m in response.json()["items"]}
        assert team == {(stage.cast[role].id, stage.cast[role].email, role)
                        for role in ("owner", *INVITED)}

    judge(response, expected, shows={"total": 1 + len(INVITED)}, then=the_team)


@scenario("GET /v1/health")
def _health(stage, route, caller, expected, variant):
    judge(stage.api(caller).get("/v1/health"), expected, shows={"status": "ok"})


@scenario("GET /v1/openapi.json")
def _openapi(stage, route, caller, expected, variant):
    response = stage.api(caller).get("/v1/openapi.json")
    judge(response, expected)
    assert response.json()["openapi"].startswith("3.1")


@scenario("GET /v1/asyncapi.json")
def _asyncapi(stage, route, caller, expected, variant):
    response = stage.api(caller).get("/v1/asyncapi.json")
    judge(response, expected)
    assert response.json()["asyncapi"].startswith("3.")


def _webhook(stage):
    """The workbench's path, and a new webhook of the owner's on it."""
    path = f"/v1/events/{stage.workbench['id']}/webhooks"
    return path, ok(stage.owner.post(path, HOOK), 201)


@scenario(f"POST {WEBHOOKS}")
def _create_webhook(stage, route, caller, expected, variant):
    path = f"/v1/events/{stage.workbench['id']}/webhooks"
    listing = f"{path}?limit=200"
    before = stage.seen(listing)
    response = stage.api(caller).post(path, HOOK)
    judge(response, expected, shows={"url": HOOK["url"], "enabled": True},
          state=lambda: stage.seen(listing), before=before,
          then=lambda: _status(stage.seen(f"{path}/{response.json()['id']}"), 200))


@scenario(f"GET {WEBHOOKS}", f"GET {WEBHOOK}", f"GET {WEBHOOK}/deliveries")
def _read_webhooks(stage, route, caller, expected, variant):
    path, webhook = _webhook(stage)
    tail = route.split(WEBHOOKS)[1].replace("/{webhook_id}", f"/{webhook['id']}")
    response = stage.api(caller).get(path + tail)
    judge(response, expected, then=lambda: _never_the_secret(response.json()))


@scenario(f"PATCH {WEBHOOK}")
def _update_webhook(stage, route, caller, expected, variant):
    path, webhook = _webhook(stage)
    one = f"{path}/{webhook['id']}"
    before = stage.seen(one)
    response = stage.api(caller).patch(one, {"description": "changed"})
    judge(response, expected, shows={"description": "changed"},
          state=lambda: stage.seen(one), before=before,
          then=lambda: _holds(stage.seen(one), {"description": "changed"}))


@scenario(f"DELETE {WEBHOOK}")
def _delete_webhook(stage, route, caller, expected, variant):
    path, webhook = _webhook(stage)
    one = f"{path}/{webhook['id']}"
    before = stage.seen(one)
    judge(stage.api(caller).delete(one), expected, state=lambda: stage.seen(one),
          before=before, then=lambda: _status(stage.seen(one), 404))


@scenario(f"POST {WEBHOOK}/test", f"POST {WEBHOOK}/deliveries/{{delivery_id}}/retry")
def _send_webhook(stage, route, caller, expected, variant):
    path, webhook = _webhook(stage)
    one = f"{path}/{webhook['id']}"
    target = f"{one}/test"
    if route.endswith("/retry"):
        delivery = ok(stage.owner.post(f"{one}/test"), 202)
        target = f"{one}/deliveries/{delivery['id']}/retry"
    listing = f"{one}/deliveries"
    before = stage.seen(listing)[1]["total"]
    response = stage.api(caller).post(target)
    judge(response, expected, shows={"webhook_id": webhook["id"], "status": "pending"},
          state=lambda: stage.seen(listing)[1]["total"], before=before)


def _never_the_secret(answer):
    assert "secret" not in json.dumps(answer), answer


def _holds(seen, change):
    status, body = seen
    assert status == 200 and {field: body[field] for field in change} == change, seen


def _status(seen, expected):
    assert seen[0] == expected, seen


# the invite routes: each case gets an invite of its own, to a new user

def _invite_case(stage, caller, role="coorganizer", event=None):
    """(invite path, the caller's api, the invitee, the event) for a new
    pending invite of `role` on `event` (the workbench when None). The
    invitee has verified their email when the caller is the invitee."""
    event = event or stage.workbench
    invitee = stage.new_user("invitee", verified=caller == "invitee")
    invite = stage.invite(event, invitee.email, role)
    return f"/v1/role-invites/{invite['id']}", stage.api(caller, invitee), invitee, event


def _team(stage, event):
    team = ok(stage.owner.get(f"/v1/events/{event['id']}/roles?limit=200"))["items"]
    return {member["user_id"]: member["role"] for member in team}


def _read_invite(stage, route, caller, expected):
    path, api, invitee, _ = _invite_case(stage, caller)
    response = api.get(path)
    judge(response, expected, shows={"email": invitee.email, "status": "pending"},
          then=lambda: _never_the_token(response.json()))


def _never_the_token(invite):
    assert not {"token", "token_hash", "accept_path"} & invite.keys(), invite


def _respond(stage, route, caller, expected):
    """Accept or decline, by the invite's id (PATCH) or by the token of the
    link mailed to the invitee (POST …/accept, whoever sends it)."""
    status = "declined" if route.endswith("decline") else "accepted"
    owner_invite = route.endswith("owner")
    event = stage.fresh_event(caller) if owner_invite else None  # ownership moves
    role = "owner" if owner_invite else "coorganizer"
    path, api, invitee, event = _invite_case(stage, caller, role, event)
    by_link = route.startswith("POST")
    token = stage.link(invitee.email, ACCEPT_PATH) if by_link else None
    before = stage.seen(path), _team(stage, event)
    if by_link:
        response = api.post("/v1/role-invites/accept", {"token": token, "status": status})
    else:
        response = api.patch(path, {"status": status})

    def granted():
        team = _team(stage, event)
        if status == "declined":
            assert invitee.id not in team
            return
        assert response.json()["role_granted"] is True
        assert team[invitee.id] == role
        if owner_invite:
            assert team[stage.cast["owner"].id] == "organizer"

    judge(response, expected, shows={"status": status},
          state=lambda: (stage.seen(path), _team(stage, event)), before=before, then=granted)


AMENDMENTS = {  # route → (the invite's role, the change)
    "PATCH /v1/role-invites/{invite_id} amend role": ("coorganizer", {"role": "organizer"}),
    "PATCH /v1/role-invites/{invite_id} amend email": ("coorganizer", {"email": None}),
    "PATCH /v1/role-invites/{invite_id} amend role to owner": ("coorganizer", {"role": "owner"}),
    "PATCH /v1/role-invites/{invite_id} amend, owner": ("owner", {"role": "organizer"}),
}


def _amend(stage, route, caller, expected):
    role, change = AMENDMENTS[route]
    if "email" in change:
        change = {"email": stage.new_user("amended").email}
    path, api, _, _ = _invite_case(stage, caller, role)
    before = stage.seen(path)
    response = api.patch(path, change)
    judge(response, expected, shows={**change, "status": "pending"},
          state=lambda: stage.seen(path), before=before,
          then=lambda: _holds(stage.seen(path), change))


def _withdraw(stage, route, caller, expected):
    role = "owner" if route.endswith("owner") else "coorganizer"
    path, api, _, _ = _invite_case(stage, caller, role)
    before = stage.seen(path)
    response = api.delete(path)
    judge(response, expected, state=lambda: stage.seen(path), before=before,
          then=lambda: _status(stage.seen(path), 404))


def _resend(stage, route, caller, expected):
    """A fresh link is mailed: the invitee has two invitation mails."""
    role = "owner" if route.endswith("owner") else "coorganizer"
    path, api, invitee, _ = _invite_case(stage, caller, role)
    first = stage.link(invitee.email, ACCEPT_PATH)  # mailed once the invite was made
    before = stage.seen(path)
    response = api.post(f"{path}/resend")

    def a_fresh_link():
        tokens = stage.links(invitee.email, ACCEPT_PATH, count=2)
        assert tokens[0] == first and tokens[-1] != first, tokens
        _never_the_token(response.json())

    judge(response, expected, shows={"email": invitee.email, "status": "pending"},
          state=lambda: stage.seen(path), before=before, then=a_fresh_link)


INVITE_SCENARIOS = {
    "GET /v1/role-invites/{invite_id}": _read_invite,
    "PATCH /v1/role-invites/{invite_id} accept": _respond,
    "PATCH /v1/role-invites/{invite_id} decline": _respond,
    "PATCH /v1/role-invites/{invite_id} accept, owner": _respond,
    **dict.fromkeys(AMENDMENTS, _amend),
    "DELETE /v1/role-invites/{invite_id}": _withdraw,
    "DELETE /v1/role-invites/{invite_id} owner": _withdraw,
    f"POST {BY_LINK} accept": _respond,
    f"POST {BY_LINK} decline": _respond,
    f"POST {BY_LINK} accept, owner": _respond,
    f"POST {ONE}/resend": _resend,
    f"POST {ONE}/resend owner": _resend,
}


# the account routes: each case a user of its own, of the kind the caller names

def _account(stage, caller):
    """(the caller's user or None, the api they ask with)."""
    if caller == "anonymous":
        return None, stage.anonymous
    person = stage.new_user("account", verified=caller == "verified")
    return person, person.api


def _me(person):
    return ok(person.api.get("/v1/users/me"))


def _sign_out(stage, route, caller, expected):
    person, api = _account(stage, caller)
    response = api.post("/v1/auth/logout")

    def this_token_ended():
        assert_problem(person.session().get("/v1/users/me"), 401, "session_ended")

    judge(response, expected, then=this_token_ended)


def _update_me(stage, route, caller, expected):
    person, api = _account(stage, caller)
    response = api.patch("/v1/users/me", {"name": "Renamed"})
    judge(response, expected, shows={"name": "Renamed"},
          then=lambda: _holds((200, _me(person)), {"name": "Renamed", "id": person.id}))


def _request_verification(stage, route, caller, expected):
    person, api = _account(stage, caller)
    if caller == "unverified":
        stage.allow_another_verification_mail(person)
    response = api.post("/v1/users/me/verify-email")

    def mailed_again():  # the sign-up's link, and a fresh one
        assert len(stage.links(person.email, VERIFY_PATH, count=2)) == 2

    judge(response, expected, then=mailed_again)


def _my_invites(stage, route, caller, expected):
    person, api = _account(stage, caller)
    invite = stage.invite(stage.workbench, person.email, "moderator") if person else None
    response = api.get("/v1/users/me/role-invites")

    def the_invite_to_me():
        [mine] = response.json()["items"]
        assert (mine["id"], mine["event_name"]) == (invite["id"], stage.workbench["name"])
        _never_the_token(mine)

    judge(response, expected, shows={"total": 1}, then=the_invite_to_me)


def _verify_email(stage, route, caller, expected):
    _, api = _account(stage, caller)
    newcomer = stage.new_user("newcomer")
    response = api.post("/v1/users/verify-email",
                        {"token": stage.link(newcomer.email, VERIFY_PATH)})
    judge(response, expected, shows={"id": newcomer.id, "email_verified": True},
          then=lambda: _holds((200, _me(newcomer)), {"email_verified": True}))


def _request_reset(stage, route, caller, expected):
    _, api = _account(stage, caller)
    forgetful = stage.new_user("forgetful")
    response = api.post("/v1/auth/password-reset", {"email": forgetful.email})
    judge(response, expected, then=lambda: stage.link(forgetful.email, RESET_PATH))


def _reset_password(stage, route, caller, expected):
    _, api = _account(stage, caller)
    forgetful = stage.new_user("forgetful")
    assert stage.anonymous.post("/v1/auth/password-reset",
                                {"email": forgetful.email}).status_code == 202
    token = stage.link(forgetful.email, RESET_PATH)
    response = api.post("/v1/auth/password-reset/confirm",
                        {"token": token, "password": NEW_PASSWORD})

    def the_new_password_signs_in():
        signs_in = {password: stage.anonymous.post("/v1/auth/token", {
            "email": forgetful.email, "password": password}).status_code
            for password in (PASSWORD, NEW_PASSWORD)}
        assert signs_in == {PASSWORD: 401, NEW_PASSWORD: 200}, signs_in
        assert_problem(forgetful.session().get("/v1/users/me"), 401, "session_ended")

    judge(response, expected, then=the_new_password_signs_in)


ACCOUNT_SCENARIOS = {
    "POST /v1/auth/logout": _sign_out,
    "PATCH /v1/users/me": _update_me,
    "POST /v1/users/me/verify-email": _request_verification,
    "GET /v1/users/me/role-invites": _my_invites,
    "POST /v1/users/verify-email": _verify_email,
    "POST /v1/auth/password-reset": _request_reset,
    "POST /v1/auth/password-reset/confirm": _reset_password,
}


def _team_case(stage, caller):
    """A registrar of the workbench of their own, and the caller's client."""
    registrar = stage.new_user("registrar", verified=True)
    stage.give_role(stage.workbench, registrar, "registrar")
    return registrar, registrar.api if caller == "member" else stage.api(caller)


def _team_of(stage):
    return {member["user_id"]: member["role"] for member in
            ok(stage.owner.get(f"/v1/events/{stage.workbench['id']}/roles"))["items"]}


def _change_role(stage, route, caller, expected):
    registrar, api = _team_case(stage, caller)
    target = stage.cast["owner"] if route.endswith("the owner") else registrar
    before = _team_of(stage)
    response = api.patch(f"/v1/events/{stage.workbench['id']}/roles/{target.id}",
                         {"role": "moderator"})
    def holds_at_once():
        assert _team_of(stage)[target.id] == "moderator"

    judge(response, expected, shows={"role": "moderator"}, state=lambda: _team_of(stage),
          before=before, then=holds_at_once)


def _remove_member(stage, route, caller, expected):
    registrar, api = _team_case(stage, caller)
    target = stage.cast["owner"] if route.endswith("the owner") else registrar
    before = _team_of(stage)
    response = api.delete(f"/v1/events/{stage.workbench['id']}/roles/{target.id}")

    def gone_and_refused():
        assert target.id not in _team_of(stage)
        assert_problem(target.api.get(f"/v1/events/{stage.workbench['id']}"), 403)

    judge(response, expected, state=lambda: _team_of(stage), before=before,
          then=gone_and_refused)


def _my_events(stage, route, caller, expected):
    registrar, api = _team_case(stage, caller)
    response = api.get("/v1/events")

    def lists_the_workbench_with_my_role():
        mine = {event["id"]: event["my_role"] for event in response.json()["items"]}
        held = {"member": "registrar", "stranger": None, "admin": None}.get(caller, caller)
        assert mine.get(stage.workbench["id"]) == held, mine

    judge(response, expected, then=lists_the_workbench_with_my_role)


TEAM_SCENARIOS = {
    f"PATCH {MEMBER}": _change_role,
    f"PATCH {MEMBER} the owner": _change_role,
    f"DELETE {MEMBER}": _remove_member,
    f"DELETE {MEMBER} the owner": _remove_member,
    "GET /v1/events": _my_events,
}


# the tests

@pytest.mark.parametrize("route, variant, caller, expected", _cases(MATRIX, CALLERS))
def test_each_route_answers_each_caller_as_the_table_says(stage, route, variant, caller,
                                                         expected):
    SCENARIOS[route](stage, route, caller, expected, variant)


@pytest.mark.parametrize("route, state, kind, caller, expected", _read_cases())
def test_an_events_children_are_read_by_whom_the_table_says(stage, route, state, kind, caller,
                                                           expected):
    event, children = stage.world[state]
    child = children[kind]
    if not passes(caller, CHILD_POWERS[kind].read) and kind in PUBLIC_VIEWS:  # the public view
        child = {field: value for field, value in child.items()
                 if field in PUBLIC_VIEWS[kind].answer.model_fields}
    if route == "GET /v1/events/{event}/{kind}":
        response = stage.api(caller).get(f"/v1/events/{event['identifier']}/{kind}")
        judge(response, expected, shows={"total": 1, "items": [child]})
    else:
        response = stage.api(caller).get(f"/v1/{kind}/{child['id']}")
        judge(response, expected, shows=child)


@pytest.mark.parametrize("route, variant, caller, expected",
                         _cases(INVITE_MATRIX, INVITE_CALLERS))
def test_each_invite_route_answers_each_caller_as_the_table_says(stage, route, variant, caller,
                                                                expected):
    INVITE_SCENARIOS[route](stage, route, caller, expected)


@pytest.mark.parametrize("route, variant, caller, expected",
                         _cases(TEAM_MATRIX, TEAM_CALLERS))
def test_each_team_route_answers_each_caller_as_the_table_says(stage, route, variant, caller,
                                                              expected):
    TEAM_SCENARIOS[route](stage, route, caller, expected)


@pytest.mark.parametrize("route, variant, caller, expected",
                         _cases(ACCOUNT_MATRIX, ACCOUNT_CALLERS))
def test_each_account_route_answers_each_caller_as_the_table_says(stage, route, variant, caller,
                                                                 expected):
    ACCOUNT_SCENARIOS[route](stage, route, caller, expected)


def test_the_tables_cover_every_route_the_gateway_serves(api):
    document = ok(api.get("/v1/openapi.json"))
    served = {(method.upper(), path) for path, item in document["paths"].items()
              for method in item if method in {"get", "post", "put", "patch", "delete"}}
    tabled = {(method, path.replace("{kind}", kind))  # the document names each kind
              for method, path in (route.split()[:2]
                                   for route in (*MATRIX, *CHILD_READS, *INVITE_MATRIX,
                                                 *ACCOUNT_MATRIX, *TEAM_MATRIX))
              for kind in KINDS}
    assert served - tabled == set(), "routes no table asks"
    assert tabled - served == set(), "tabled routes the gateway does not serve"
    assert set(SCENARIOS) == set(MATRIX) and set(INVITE_SCENARIOS) == set(INVITE_MATRIX)
    assert set(ACCOUNT_SCENARIOS) == set(ACCOUNT_MATRIX)
    assert set(TEAM_SCENARIOS) == set(TEAM_MATRIX)
