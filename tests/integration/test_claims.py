"""No message is believed blindly: each handler checks a message's claim
against its own service's data, and a claim the data contradicts, or one
already honoured under another message id, is refused. It changes nothing
and lands in the service's dead-letter queue at once (no retries), with the
reason. Real PostgreSQL and RabbitMQ, real services."""
import pytest
from sqlalchemy import select, update

from contracts.events.errors import InvalidEventData
from contracts.events.messages import EventCopied, EventCreated, EventDeleted
from contracts.media.messages import MediaChanged, MediaCopied
from contracts.roles.messages import InviteAccepted
from services.media.models import Media
from services.roles.models import EventRole, KnownEvent, RoleInvite
from shared import deadletters
from tests.support.broker import queue_depth
from tests.support.media import (
    ACTOR,
    EVENT,
    b64,
    count,
    event_urls,
    image,
    live_records,
    publish,
    sponsor_logos,
)
from tests.support.tap import wait_until

BASE_URL = "http://media.test"  # the tests' PUBLIC_BASE_URL
KEY = "k" * 64


def refused(amqp_uri, service, message):
    """The dead letter of `message` in `service`'s dead-letter queue, once
    it is there; it got there without a retry."""
    letter = wait_until(lambda: next(
        (letter for letter in deadletters.list_dead_letters(amqp_uri, service)
         if letter.message_id == str(message.message_id)), None))
    queue = f"evt-{message.source}-{message.event_type}--{service}.on_{_method(message)}"
    assert letter.queue == queue
    assert queue_depth(amqp_uri, f"{queue}.retry.1") is None  # never retried
    return letter.error


def _method(message):
    return message.event_type.replace(".", "_")


# roles: invite.accepted is honoured only for an invite the roles service holds


def team_of(session, event):
    """`[(user_id, role)]` of the event, as the roles database holds it now."""
    return sorted(session.execute(select(EventRole.user_id, EventRole.role)
                                  .where(EventRole.event_id == event["id"])).all())


@pytest.fixture
def team(roles, sign_up, new_event):
    """Ana owns two events; Ben is invited to the first as moderator
    (pending); Cy is signed up, on no team."""
    ana, ben, cy = sign_up("ana"), sign_up("ben", verified=True), sign_up("cy")
    event, other_event = new_event(ana), new_event(ana, name="Another")
    invite = roles.acting(ana).create_invite(event["id"], {"email": ben["email"],
                                                           "role": "moderator"})
    return {"ana": ana, "ben": ben, "cy": cy, "event": event, "other_event": other_event,
            "invite": invite}


def accept(roles, team):
    """Ben accepts (through the service: the role is granted)."""
    roles.acting(team["ben"]).update_invite(team["invite"]["id"], {"status": "accepted"})


def claim(team, **changes):
    """An `invite.accepted` for Ben's invite, as the roles service would
    announce it, with `changes`."""
    ben, invite = team["ben"], team["invite"]
    return InviteAccepted(**{"invite_id": invite["id"], "event_id": invite["event_id"],
                             "user_id": ben["id"], "email": ben["email"], "role": "moderator",
                             **changes})


def no_such_invite(roles, team):
    return claim(team, invite_id=team["invite"]["id"] + 1000, role="owner"), "holds no such invite"


def a_pending_invite(roles, team):
    return claim(team), "is pending, not accepted"


def another_user(roles, team):
    accept(roles, team)
    cy = team["cy"]
    return claim(team, user_id=cy["id"], email=cy["email"]), f"is not to user {cy['id']}"


def another_user_with_the_invitees_email(roles, team):
    accept(roles, team)
    return claim(team, user_id=team["cy"]["id"]), f"is not to user {team['cy']['id']}"


def another_role(roles, team):
    accept(roles, team)
    return claim(team, role="owner"), "is for role moderator, not owner"


def another_event(roles, team):
    accept(roles, team)
    other = team["other_event"]["id"]
    return claim(team, event_id=other), f"not {other}"


@pytest.mark.parametrize("forgery", [
    no_such_invite, a_pending_invite, another_user, another_user_with_the_invitees_email,
    another_role, another_event,
])
def test_a_forged_invite_accepted_changes_nothing_and_is_dead_lettered_with_the_reason(
        roles, team, roles_session, forgery):
    message, reason = forgery(roles, team)
    before = held(roles_session, team)

    publish(roles.container.config["AMQP_URI"], message)

    error = refused(roles.container.config["AMQP_URI"], "roles", message)
    assert error.startswith("shared.messages.ForgedMessage: ") and reason in error
    assert held(roles_session, team) == before


def held(session, team):
    """Both teams, and the invite's status and grant."""
    invite = session.execute(select(RoleInvite.status, RoleInvite.granted_at)
                             .where(RoleInvite.id == team["invite"]["id"])).one()
    return (team_of(session, team["event"]), team_of(session, team["other_event"]), invite)


def test_an_invite_accepted_for_an_invite_the_service_holds_as_accepted_grants_its_role(
        roles, team, roles_session):
    # accepted, but not granted yet (as if the service stopped between the two)
    roles_session.execute(update(RoleInvite).where(RoleInvite.id == team["invite"]["id"])
                          .values(status="accepted"))
    roles_session.commit()

    publish(roles.container.config["AMQP_URI"], claim(team))

    ben, event = team["ben"], team["event"]
    wait_until(lambda: (ben["id"], "moderator") in team_of(roles_session, event))
    assert held(roles_session, team)[2].granted_at is not None


def test_an_accepted_owner_invite_replayed_cannot_take_back_ownership_passed_on(
        roles, sign_up, new_event, roles_session):
    ana, ben = sign_up("ana", verified=True), sign_up("ben", verified=True)
    event = new_event(ana)
    to_ben = roles.acting(ana).create_invite(event["id"], {"email": ben["email"],
                                                           "role": "owner"})
    roles.acting(ben).update_invite(to_ben["id"], {"status": "accepted"})
    back_to_ana = roles.acting(ben).create_invite(event["id"], {"email": ana["email"],
                                                                "role": "owner"})
    roles.acting(ana).update_invite(back_to_ana["id"], {"status": "accepted"})
    before = team_of(roles_session, event)
    assert (ana["id"], "owner") in before and (ben["id"], "owner") not in before

    replay = InviteAccepted(invite_id=to_ben["id"], event_id=event["id"], user_id=ben["id"],
                            email=ben["email"], role="owner")  # as then, under a new id
    publish(roles.container.config["AMQP_URI"], replay)

    error = refused(roles.container.config["AMQP_URI"], "roles", replay)
    assert "role was granted already: a replay" in error
    assert team_of(roles_session, event) == before  # Ana is still the owner


# roles: what it knows of events


@pytest.fixture
def known(roles, team):
    """Ana's first event, known to the roles service."""
    return team["event"]


def test_event_created_for_an_event_known_already_gives_it_no_owner(
        roles, team, known, roles_session):
    cy = team["cy"]
    message = EventCreated(event_id=known["id"], identifier=known["identifier"],
                           owner_id=cy["id"])
    before = team_of(roles_session, known)

    publish(roles.container.config["AMQP_URI"], message)

    assert "is known already" in refused(roles.container.config["AMQP_URI"], "roles", message)
    assert team_of(roles_session, known) == before


def test_event_copied_onto_an_event_known_already_changes_its_team_not(
        roles, team, known, roles_session):
    other = team["other_event"]
    message = EventCopied(source_event_id=known["id"], source_identifier=known["identifier"],
                          event_id=other["id"], identifier=other["identifier"],
                          actor_id=team["ana"]["id"], sponsor_ids={})
    roles.acting(team["ben"]).update_invite(team["invite"]["id"], {"status": "accepted"})
    before = team_of(roles_session, other)

    publish(roles.container.config["AMQP_URI"], message)

    assert "is known already" in refused(roles.container.config["AMQP_URI"], "roles", message)
    assert team_of(roles_session, other) == before


def test_event_copied_naming_its_source_by_another_identifier_is_refused(
        roles, team, known, roles_session):
    message = EventCopied(source_event_id=known["id"], source_identifier="0000000f",
                          event_id=known["id"] + 1000, identifier="abcdef12",
                          actor_id=team["ana"]["id"], sponsor_ids={})

    publish(roles.container.config["AMQP_URI"], message)

    error = refused(roles.container.config["AMQP_URI"], "roles", message)
    assert f"is {known['identifier']}, not 0000000f" in error
    assert roles_session.get(KnownEvent, known["id"] + 1000) is None


def test_event_deleted_naming_the_event_by_another_identifier_deletes_nothing(
        roles, team, known, roles_session):
    message = EventDeleted(event_id=known["id"], identifier="0000000f")

    publish(roles.container.config["AMQP_URI"], message)

    assert "not 0000000f" in refused(roles.container.config["AMQP_URI"], "roles", message)
    assert roles_session.scalar(select(KnownEvent.deleted_at)
                                .where(KnownEvent.id == known["id"])) is None


# events: only media URLs of its own base, and media.copied only for a copy


@pytest.fixture
def event(events):
    return events.acting(ACTOR).create_event(EVENT)


@pytest.fixture
def sponsor(events, event):
    return events.acting(ACTOR).create_child(event["id"], "sponsors", {"name": "ACME"})


NO_URLS = dict.fromkeys(["logo_url", "original_image_url", "large_image_url",
                         "thumbnail_image_url", "icon_image_url"])


@pytest.mark.parametrize("event_urls_sent, sponsor_url", [
    ({"logo_url": "https://elsewhere.example/media/" + KEY}, None),
    ({"logo_url": "http://media.test.elsewhere.example/media/" + KEY}, None),
    ({"logo_url": f"{BASE_URL}/media/../../etc/passwd"}, None),
    ({"logo_url": f"{BASE_URL}/avatars/{KEY}"}, None),
    ({}, "javascript:alert(1)"),
])
def test_media_changed_with_a_url_not_of_the_media_base_is_refused(
        events, event, sponsor, amqp_uri, event_urls_sent, sponsor_url):
    sponsor_urls = {sponsor["id"]: sponsor_url} if sponsor_url else {}
    message = MediaChanged(event_id=event["id"], media_version=1, event_urls=event_urls_sent,
                           sponsor_urls=sponsor_urls)

    publish(amqp_uri, message)

    assert "not a media URL of http://media.test" in refused(amqp_uri, "events", message)
    assert event_urls(events, event["id"]) == NO_URLS
    assert sponsor_logos(events, event["id"]) == {sponsor["id"]: None}


def test_apply_media_urls_refuses_a_url_not_of_the_media_base(events, event):
    with pytest.raises(InvalidEventData, match="not a media URL"):
        events.apply_media_urls(event["id"], 1, {"logo_url": "https://elsewhere.example/x.png"},
                                {})
    assert event_urls(events, event["id"]) == NO_URLS


def test_media_copied_for_an_event_that_is_not_a_copy_of_the_source_is_refused(
        events, event, amqp_uri):
    other = events.acting(ACTOR).create_event(EVENT)
    message = MediaCopied(source_event_id=other["id"], event_id=event["id"],
                          event_urls={"logo_url": f"{BASE_URL}/media/{KEY}"}, sponsor_urls={})

    publish(amqp_uri, message)

    error = refused(amqp_uri, "events", message)
    assert f"event {event['id']} is not a copy of event {other['id']}" in error
    assert event_urls(events, event["id"]) == NO_URLS


# media: event.copied checked against the media it holds


@pytest.fixture
def source(media, events, event, sponsor):
    """An event with a logo, and a sponsor with a logo."""
    media.acting(ACTOR).upload_event_image(event["id"], "logo", b64(image("navy", (400, 400))))
    media.acting(ACTOR).upload_sponsor_logo(sponsor["id"], b64(image("green", (300, 100))))
    return event


def copied(source, target, sponsor_ids=None):
    return EventCopied(source_event_id=source["id"], source_identifier=source["identifier"],
                       event_id=target["id"], identifier=target["identifier"], actor_id=ACTOR,
                       sponsor_ids=sponsor_ids or {})


def test_event_copied_naming_the_source_as_its_own_copy_is_refused(
        media, source, amqp_uri, media_db):
    message = copied(source, source)

    publish(amqp_uri, message)

    assert "is named as its own copy" in refused(amqp_uri, "media", message)
    assert live_records(media_db, source["id"]) == 2


def test_event_copied_replayed_under_a_new_id_brings_back_nothing_removed_since(
        media, events, source, amqp_uri, media_db):
    copy = events.acting(ACTOR).copy_event(source["id"])
    wait_until(lambda: event_urls(events, copy["id"])["logo_url"])
    media.acting(ACTOR).delete_event_image(copy["id"], "logo")  # the copy's own choice
    copy_sponsors = events.list_children(copy["id"], "sponsors")["items"]
    source_sponsors = events.list_children(source["id"], "sponsors")["items"]
    replay = copied(source, copy, {source_sponsors[0]["id"]: copy_sponsors[0]["id"]})

    publish(amqp_uri, replay)

    assert "was copied already: a replay" in refused(amqp_uri, "media", replay)
    assert live_records(media_db, copy["id"]) == 1  # the sponsor's logo, not the event's
    assert event_urls(events, copy["id"])["logo_url"] is None


def test_event_copied_mapping_another_events_sponsor_is_refused(
        media, events, source, sponsor, amqp_uri, media_db):
    target = events.acting(ACTOR).create_event(EVENT)
    elsewhere = events.acting(ACTOR).create_event(EVENT)
    theirs = events.acting(ACTOR).create_child(elsewhere["id"], "sponsors", {"name": "Globex"})
    media.acting(ACTOR).upload_sponsor_logo(theirs["id"], b64(image("orange", (300, 100))))
    message = copied(source, target, {sponsor["id"]: theirs["id"]})  # theirs becomes ours?

    publish(amqp_uri, message)

    error = refused(amqp_uri, "media", message)
    assert f"sponsor {theirs['id']} is of event {elsewhere['id']}, not {target['id']}" in error
    assert count(media_db, Media, Media.event_id == target["id"]) == 0
