"""Teams that can be run, end to end over HTTP: a changed role holds at the
next request, with the powers of the new role; a removed member is refused
at their next request on every gateway process, anyone may leave, the
owner stays; "my events" follows creation, copy, acceptance and removal at
once; the public views of a published event show nothing private."""
import json

import pytest
import requests

from tests.e2e.helpers import assert_problem
from tests.support.http import ACCEPT_PATH, ok
from tests.support.tap import wait_until

EVENT = {"name": "Team Summit", "starts_at": "2030-06-01T09:00:00+02:00",
         "ends_at": "2030-06-02T18:00:00+02:00"}


@pytest.fixture
def team(new_user, mailbox):
    """An owner's event and a member of each role given: `(owner, event,
    members)`, each member having accepted a mailed invite."""
    def team(*roles):
        owner = new_user("owner")
        event = ok(owner.api.post("/v1/events", EVENT), 201)
        members = {}
        for role in roles:
            member = new_user(role, verified=True)
            ok(owner.api.post(f"/v1/events/{event['id']}/role-invites",
                              {"email": member.email, "role": role}), 201)
            token = mailbox.link_token(mailbox.wait_for(to=member.email,
                                                        subject_contains="invites you"),
                                       ACCEPT_PATH)
            ok(member.api.post("/v1/role-invites/accept", {"token": token}))
            members[role] = member
        return owner, event, members
    return team


def roles_path(event, member):
    return f"/v1/events/{event['id']}/roles/{member.id}"


def test_a_changed_role_holds_at_the_next_request(team):
    owner, event, members = team("coorganizer")
    coorganizer = members["coorganizer"]
    invite = {"email": f"later.{event['id']}@example.org", "role": "registrar"}
    path = f"/v1/events/{event['id']}/role-invites"

    assert_problem(coorganizer.api.post(path, invite), 403)
    changed = ok(owner.api.patch(roles_path(event, coorganizer), {"role": "organizer"}))
    assert changed["role"] == "organizer"
    ok(coorganizer.api.post(path, invite), 201)

    ok(owner.api.patch(roles_path(event, coorganizer), {"role": "registrar"}))
    assert_problem(coorganizer.api.patch(f"/v1/events/{event['id']}", {"name": "Mine"}), 403)


def test_each_lesser_role_gets_its_powers_at_the_next_request(team):
    owner, event, members = team("registrar")
    member = members["registrar"]
    talk = ok(owner.api.post(f"/v1/events/{event['id']}/sessions",
                             {"title": "Talk", "state": "submitted"}), 201)
    ticket = ok(owner.api.post(f"/v1/events/{event['id']}/tickets",
                               {"name": "Day", "type": "free"}), 201)
    guest = ok(owner.api.post(f"/v1/events/{event['id']}/attendees",
                              {"firstname": "Ada", "ticket_id": ticket["id"]}), 201)
    session, attendee = f"/v1/sessions/{talk['id']}", f"/v1/attendees/{guest['id']}"

    # a registrar: checks attendees in, reviews no session
    assert ok(member.api.patch(attendee, {"checked_in": True}))["checked_in_at"]
    assert_problem(member.api.patch(session, {"state": "accepted"}), 403)

    # a moderator from the next request on: reviews, but retitles nothing
    ok(owner.api.patch(roles_path(event, member), {"role": "moderator"}))
    assert_problem(member.api.patch(attendee, {"checked_in": False}), 403)
    assert ok(member.api.patch(session, {"state": "accepted"}))["state"] == "accepted"
    assert_problem(member.api.patch(session, {"title": "Mine"}), 403)

    # a track organizer: manages the program, reads no attendee
    ok(owner.api.patch(roles_path(event, member), {"role": "track_organizer"}))
    assert ok(member.api.patch(session, {"title": "Keynote"}))["title"] == "Keynote"
    track = {"name": "Main", "color": "#1A2B3C"}
    ok(member.api.post(f"/v1/events/{event['id']}/tracks", track), 201)
    assert_problem(member.api.get(f"/v1/events/{event['id']}/attendees"), 403)


def test_a_removed_member_is_refused_at_once_by_every_gateway_process(team, system):
    owner, event, members = team("organizer")
    organizer = members["organizer"]
    system.start_service("gateway#2")  # the same port: the kernel spreads connections
    try:
        wait_until(lambda: requests.get(f"{system.base_url}/v1/health", timeout=5)  # new
                   and "/v1/health" in system.log_text("gateway#2"), timeout=30)  # connections
        assert ok(organizer.session().get(f"/v1/events/{event['id']}"))["id"] == event["id"]

        assert owner.api.delete(roles_path(event, organizer)).status_code == 204

        refused = [organizer.session().get(f"/v1/events/{event['id']}") for _ in range(30)]
        assert {response.status_code for response in refused} == {403}
        ids = {response.headers["X-Request-Id"] for response in refused}
        for process in ("gateway", "gateway#2"):
            assert any(request_id in system.log_text(process) for request_id in ids), process
    finally:
        system.stop_service("gateway#2")
    assert_problem(organizer.api.patch(f"/v1/events/{event['id']}", {"name": "Mine"}), 403)
    assert_problem(organizer.api.post(f"/v1/events/{event['id']}/tracks",
                                      {"name": "Web", "color": "#00ff00"}), 403)


def test_a_member_may_leave_and_be_invited_again(team, mailbox):
    owner, event, members = team("moderator")
    moderator = members["moderator"]

    assert moderator.api.delete(roles_path(event, moderator)).status_code == 204

    assert_problem(moderator.api.get(f"/v1/events/{event['id']}"), 403)
    ok(owner.api.post(f"/v1/events/{event['id']}/role-invites",
                      {"email": moderator.email, "role": "moderator"}), 201)


def test_the_owner_is_neither_removed_nor_demoted_nor_made(team):
    owner, event, members = team("organizer")
    organizer = members["organizer"]

    assert_problem(organizer.api.delete(roles_path(event, owner)), 409, "owner_role_fixed")
    assert_problem(organizer.api.patch(roles_path(event, owner), {"role": "registrar"}), 409,
                   "owner_role_fixed")
    assert_problem(owner.api.delete(roles_path(event, owner)), 409, "owner_role_fixed")
    assert_problem(owner.api.patch(roles_path(event, organizer), {"role": "owner"}), 422)


def test_a_coorganizer_changes_no_role(team):
    owner, event, members = team("coorganizer", "registrar")

    response = members["coorganizer"].api.patch(roles_path(event, members["registrar"]),
                                                 {"role": "coorganizer"})

    assert_problem(response, 403)


def my_events(user, **params):
    return {item["id"]: item["my_role"]
            for item in ok(user.api.get("/v1/events", params=params))["items"]}


def test_my_events_follows_creation_copy_acceptance_and_removal(team, new_user, api):
    owner, event, members = team("coorganizer")
    coorganizer = members["coorganizer"]

    copy = ok(owner.api.post(f"/v1/events/{event['id']}/copy"), 201)

    assert my_events(owner) == {event["id"]: "owner", copy["id"]: "owner"}
    assert my_events(coorganizer) == {event["id"]: "coorganizer", copy["id"]: "coorganizer"}
    assert my_events(coorganizer, role="owner") == {}
    owner.api.delete(roles_path(event, coorganizer))
    assert my_events(coorganizer) == {copy["id"]: "coorganizer"}
    assert ok(new_user("stranger").api.get("/v1/events"))["total"] == 0
    assert_problem(api.get("/v1/events"), 401)  # anonymous: sign in, or ask for public ones


def test_public_events_are_listed_for_anyone(new_user, api):
    owner = new_user("owner")
    marker = f"Public {owner.id}"
    published = ok(owner.api.post("/v1/events", {**EVENT, "name": marker,
                                                 "state": "published"}), 201)
    ok(owner.api.post("/v1/events", {**EVENT, "name": marker}), 201)  # a draft

    listed = ok(api.get("/v1/events", params={"public": "true", "q": marker}))

    assert [item["id"] for item in listed["items"]] == [published["id"]]
    assert listed["total"] == 1


def test_the_public_views_leak_no_email_and_no_unaccepted_session(new_user, api):
    owner = new_user("owner")
    event = ok(owner.api.post("/v1/events", {**EVENT, "state": "published"}), 201)
    path = f"/v1/events/{event['id']}"
    shown = ok(owner.api.post(f"{path}/speakers", {"name": "Shown",
                                                   "email": "shown@example.org"}), 201)
    hidden = ok(owner.api.post(f"{path}/speakers", {"name": "Hidden",
                                                    "email": "hidden@example.org"}), 201)
    ok(owner.api.post(f"{path}/sessions", {"title": "On stage", "state": "accepted",
                                           "speaker_ids": [shown["id"]]}), 201)
    draft = ok(owner.api.post(f"{path}/sessions", {"title": "Maybe", "state": "draft",
                                                   "speaker_ids": [hidden["id"]]}), 201)
    ok(owner.api.post(f"{path}/speakers-calls", {"announcement": "Closed circle",
                                                 "starts_at": EVENT["starts_at"],
                                                 "privacy": "private"}), 201)

    speakers = api.get(f"{path}/speakers").text
    sessions = api.get(f"{path}/sessions").text
    calls = json.loads(api.get(f"{path}/speakers-calls").text)

    assert "@" not in speakers and "Hidden" not in speakers and "Shown" in speakers
    assert "Maybe" not in sessions and "On stage" in sessions
    assert json.loads(sessions)["total"] == 1 and calls["total"] == 0
    assert_problem(api.get(f"/v1/sessions/{draft['id']}"), 404)
    assert "@" not in api.get(f"/v1/speakers/{shown['id']}").text
    assert "shown@example.org" in owner.api.get(f"{path}/speakers").text  # the team's view
