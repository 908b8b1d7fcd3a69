"""Reads from the gateway's read cache (`services.gateway.reads`), across
two gateway processes on ports of their own: a change is read back at
once, whichever process answers, by its writer and by anyone else; a
removal, a demotion and a sign-out hold at the next request on both; the
public and team views of an event's children stay apart. Every check is
made with both processes' caches warm, and the cache is seen to answer."""
import itertools

import pytest
import requests

from tests.e2e.helpers import assert_problem, png
from tests.support.http import ACCEPT_PATH, Api, ok
from tests.support.metrics import scrape, value
from tests.support.system import free_port
from tests.support.tap import wait_until

EVENT = {"name": "Cache Camp", "starts_at": "2030-07-01T09:00:00+02:00",
         "ends_at": "2030-07-02T18:00:00+02:00"}
PAIRS = 1000


@pytest.fixture(scope="module")
def second_gateway(system):
    """The base URL of a second gateway process, on a port of its own."""
    port = free_port()
    system.start_service("gateway#2-own-port", GATEWAY_ADDRESS=f"127.0.0.1:{port}")
    base_url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{base_url}/v1/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False
    wait_until(up, timeout=60, interval=0.2)
    yield base_url
    system.stop_service("gateway#2-own-port")


@pytest.fixture
def processes(system, second_gateway):
    """`processes(user)`: the user's client of each gateway process."""
    return lambda user: (user.api, Api(second_gateway, user.token))


@pytest.fixture
def member_of(new_user, mailbox):
    """`member_of(owner, event, role)`: a verified user who accepted a mailed
    invite to `role`."""
    def member_of(owner, event, role):
        member = new_user(role, verified=True)
        ok(owner.api.post(f"/v1/events/{event['id']}/role-invites",
                          {"email": member.email, "role": role}), 201)
        mail = mailbox.wait_for(to=member.email, subject_contains="invites you")
        ok(member.api.post("/v1/role-invites/accept",
                           {"token": mailbox.link_token(mail, ACCEPT_PATH)}))
        return member
    return member_of


def cache_hits(system):
    return sum(value(scrape(system.metrics_url(process)), "read_cache_total", read=read,
                     result="hit")
               for process in ("gateway", "gateway#2-own-port")
               for read in ("session", "access", "event", "children", "my_events"))


def test_a_thousand_writes_are_read_back_at_once_whichever_process_answers(
        system, new_user, member_of, processes):
    """Each pair writes on one process and reads on the other, by turns: an
    event's name, a track's name, a member's role (their "my events" and
    what it lets them read) and, now and then, the event's logo."""
    owner = new_user("owner")
    event = ok(owner.api.post("/v1/events", EVENT), 201)
    path = f"/v1/events/{event['id']}"
    track = ok(owner.api.post(f"{path}/tracks", {"name": "Main", "color": "#1A2B3C"}), 201)
    member = member_of(owner, event, "registrar")
    owners, members = processes(owner), processes(member)
    hits_before = cache_hits(system)
    roles = itertools.cycle(["moderator", "registrar"])
    stale, sessions = [], 0

    def check(what, seen, expected):
        if seen != expected:
            stale.append((what, seen, expected))

    for n in range(PAIRS):
        writer, reader = (0, 1) if n % 2 == 0 else (1, 0)
        ok(owners[reader].get(path))  # the reader's cache holds the answer before the write
        match n % 4:
            case 0:
                name = f"Cache Camp {n}"
                ok(owners[writer].patch(path, {"name": name}))
                check("event", ok(owners[reader].get(path))["name"], name)
            case 1:
                name = f"Track {n}"
                ok(owners[writer].patch(f"/v1/tracks/{track['id']}", {"name": name}))
                listed = ok(owners[reader].get(f"{path}/tracks"))["items"]
                check("tracks", [item["name"] for item in listed], [name])
            case 2:
                role = next(roles)
                ok(owners[writer].patch(f"{path}/roles/{member.id}", {"role": role}))
                mine = ok(members[reader].get("/v1/events"))["items"]
                check("my events", [item["my_role"] for item in mine], [role])
                attendees = members[reader].get(f"{path}/attendees").status_code
                check("access", attendees, 200 if role == "registrar" else 403)
            case 3 if n % 100 == 3:
                before = ok(owners[reader].get(path))["logo_url"]
                ok(owners[writer].put(f"{path}/images/logo", data=png(16, 16, f"#{n:06x}"),
                                      headers={"Content-Type": "image/png"}))
                after = ok(owners[reader].get(path))["logo_url"]
                check("logo", after not in (None, before), True)
            case 3:
                ok(owners[writer].post(f"{path}/sessions", {"title": f"Talk {n}"}), 201)
                sessions += 1
                check("sessions", ok(owners[reader].get(f"{path}/sessions"))["total"], sessions)

    assert stale == []
    assert cache_hits(system) - hits_before >= PAIRS  # the reads were served from the cache


def test_another_reader_sees_a_change_once_it_is_answered(new_user, api, second_gateway):
    owner = new_user("owner")
    event = ok(owner.api.post("/v1/events", {**EVENT, "state": "published"}), 201)
    path = f"/v1/events/{event['id']}"
    anyone = Api(second_gateway)
    for n in range(50):
        assert ok(anyone.get(path))["name"] != f"Renamed {n}"
        ok(owner.api.patch(path, {"name": f"Renamed {n}"}))
        assert ok(anyone.get(path))["name"] == f"Renamed {n}"
        assert ok(anyone.get("/v1/events", params={"public": "true", "q": f"Renamed {n}"})
                  )["total"] == 1


def test_a_removal_a_demotion_and_a_sign_out_hold_at_the_next_request_everywhere(
        new_user, member_of, processes):
    owner = new_user("owner")
    event = ok(owner.api.post("/v1/events", EVENT), 201)
    path = f"/v1/events/{event['id']}"
    registrar, organizer = member_of(owner, event, "registrar"), member_of(owner, event,
                                                                           "organizer")
    for client in processes(registrar):
        ok(client.get(f"{path}/attendees"))
    for client in processes(organizer):
        ok(client.get(path))

    ok(owner.api.patch(f"{path}/roles/{registrar.id}", {"role": "moderator"}))
    assert owner.api.delete(f"{path}/roles/{organizer.id}").status_code == 204

    for client in processes(registrar):
        assert_problem(client.get(f"{path}/attendees"), 403)
    for client in processes(organizer):
        assert_problem(client.get(path), 403)

    first, second = processes(owner)
    ok(second.get(path))
    assert first.post("/v1/auth/logout").status_code == 204
    for client in (first, second):
        assert_problem(client.get(path), 401)


def test_public_and_team_views_of_the_children_stay_apart(new_user, member_of, processes,
                                                          second_gateway):
    owner = new_user("owner")
    event = ok(owner.api.post("/v1/events", {**EVENT, "state": "published"}), 201)
    path = f"/v1/events/{event['id']}"
    speaker = ok(owner.api.post(f"{path}/speakers", {"name": "Ada",
                                                     "email": "ada@example.org"}), 201)
    ok(owner.api.post(f"{path}/sessions", {"title": "On stage", "state": "accepted",
                                           "speaker_ids": [speaker["id"]]}), 201)
    ok(owner.api.post(f"{path}/sessions", {"title": "Maybe", "state": "draft"}), 201)
    anyone, team = Api(second_gateway), processes(owner)[1]

    for _ in range(2):  # the team's view kept first, then the public one, then both again
        assert ok(team.get(f"{path}/sessions"))["total"] == 2
        assert "ada@example.org" in team.get(f"{path}/speakers").text
        public = ok(anyone.get(f"{path}/sessions"))
        assert [item["title"] for item in public["items"]] == ["On stage"]
        assert "@" not in anyone.get(f"{path}/speakers").text
