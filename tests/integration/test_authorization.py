"""Who may change an event, its children and its images, as the real roles
service decides: the events and media services refuse an actor without the
right however they are called, so a caller that skips the gateway gets no
further (defence in depth). The team is made the way users make it,
through invites accepted over the roles service's RPC. Every call goes over
RPC: a refusal arrives as the service's own `AccessDenied` and leaves the
data as it was. Real PostgreSQL and RabbitMQ."""
import pytest
from sqlalchemy import select

from contracts.errors import AccessDenied, EventNotFound
from services.events import events as events_module
from services.events import models
from services.events.media_urls import EVENT_URL_FIELDS
from services.events.service import EventsService
from services.roles.admin import set_admin_flag
from services.roles.models import KnownEvent
from shared.actors import ActorNotProven
from shared.errors import Unavailable
from tests.support.media import EVENT, b64, event_urls, image, sponsor_logos, stored
from tests.support.services import Remote, start_service
from tests.support.tap import wait_until

UNKNOWN_USER_ID = 987654321
TRACK = {"name": "Web", "color": "#1A2B3C"}
LOGO = image("navy", (400, 400))
NO_URLS = dict.fromkeys(EVENT_URL_FIELDS)


@pytest.fixture
def user(roles, sign_up, owner, event, roles_db_url):
    """`user("organizer")` → a new user holding that role on the event: the
    owner invited them and they accepted. `user("admin")` → a new user with
    the admin flag (set as the operator command sets it) and no role;
    `user("stranger")` → a new user with no role; `user("owner")` → the owner."""
    def user(who):
        if who == "owner":
            return owner
        new = sign_up(who, verified=who not in ("admin", "stranger"))
        if who == "admin":
            assert set_admin_flag(roles_db_url, new["email"], True)
        elif who != "stranger":
            invite = roles.acting(owner["id"]).create_invite(
                event["id"], {"email": new["email"], "role": who}
            )
            accepted = roles.acting(new["id"]).update_invite(invite["id"], {"status": "accepted"})
            assert accepted["role_granted"] is True
        return new

    return user


@pytest.fixture
def events_rpc(events_beside_roles):
    """The events service over RPC, called as a caller that skips the gateway would."""
    with Remote("events", events_beside_roles.container.config) as proxy:
        yield proxy


@pytest.fixture
def track(events_rpc, owner, event):
    return events_rpc.acting(owner["id"]).create_child(event["id"], "tracks", TRACK)


@pytest.fixture
def roles_caught_up(roles, roles_session):
    """`roles_caught_up(created=[ids], deleted=[ids])` returns once the roles
    service has handled what the events service announced about these
    events: no handler may still run when the test's databases are emptied."""

    def caught_up(created=(), deleted=()):
        for event_id in created:
            roles.await_event(event_id)
        for event_id in deleted:
            wait_until(
                lambda event_id=event_id: roles_session.scalar(
                    select(KnownEvent.deleted_at)
                    .where(KnownEvent.id == event_id)
                    .execution_options(populate_existing=True)
                )
            )

    return caught_up


def refused(error, change, *stored_data):
    """`change()` raises exactly `error`, and each of `stored_data()` is
    the same after it as before."""
    before = [read() for read in stored_data]
    with pytest.raises(error) as refusal:
        change()
    assert refusal.type is error and refusal.value.code == error.code
    assert [read() for read in stored_data] == before


# the events service


def event_changes(events, actor, event, track):
    """Each change of the event and its children, as `actor` would make it."""
    return {
        "update the event": lambda: events.acting(actor["id"]).update_event(
            event["id"], {"name": "Renamed"}
        ),
        "delete the event": lambda: events.acting(actor["id"]).delete_event(event["identifier"]),
        "create a child": lambda: events.acting(actor["id"]).create_child(
            event["id"], "tracks", TRACK
        ),
        "update a child": lambda: events.acting(actor["id"]).update_child(
            "tracks", track["id"], {"name": "Renamed"}
        ),
        "delete a child": lambda: events.acting(actor["id"]).delete_child("tracks", track["id"]),
        "copy the event": lambda: events.acting(actor["id"]).copy_event(event["id"]),
    }


@pytest.fixture
def events_rows(events_db):
    """A reader of every row of the events and tracks tables."""

    def read():
        with events_db.connect() as connection:
            return [
                connection.execute(select(table).order_by(table.c.id)).all()
                for table in (models.Event.__table__, models.Track.__table__)
            ]

    return read


def test_a_stranger_may_change_nothing(events_rpc, user, event, track, events_rows):
    stranger = user("stranger")
    for change in event_changes(events_rpc, stranger, event, track).values():
        refused(AccessDenied, change, events_rows)


def test_a_coorganizer_may_copy_the_event_but_not_change_it(
    events_rpc, user, event, track, events_rows, roles_caught_up
):
    coorganizer = user("coorganizer")
    changes = event_changes(events_rpc, coorganizer, event, track)

    for name in (
        "update the event",
        "delete the event",
        "create a child",
        "update a child",
        "delete a child",
    ):
        refused(AccessDenied, changes[name], events_rows)
    copy = changes["copy the event"]()

    assert copy["copied_from"]["id"] == event["id"]
    roles_caught_up(created=[copy["id"]])


def test_an_organizer_may_change_the_event_and_its_children_but_not_delete_it(
    events_rpc, user, event, track, events_rows
):
    organizer = user("organizer")
    changes = event_changes(events_rpc, organizer, event, track)

    refused(AccessDenied, changes["delete the event"], events_rows)
    assert changes["update the event"]()["name"] == "Renamed"
    assert changes["create a child"]()["event_id"] == event["id"]
    assert changes["update a child"]()["name"] == "Renamed"
    assert changes["delete a child"]() == {"id": track["id"], "deleted": True}


def test_a_track_organizer_manages_tracks_and_sessions_and_nothing_else(
    events_rpc, user, owner, event, track, events_rows
):
    track_organizer = user("track_organizer")
    changes = event_changes(events_rpc, track_organizer, event, track)
    events = events_rpc.acting(track_organizer["id"])

    for name in ("update the event", "delete the event", "copy the event"):
        refused(AccessDenied, changes[name], events_rows)
    refused(AccessDenied, lambda: events.create_child(event["id"], "sponsors", {"name": "Ac"}),
            events_rows)
    assert changes["create a child"]()["event_id"] == event["id"]
    assert changes["update a child"]()["name"] == "Renamed"
    talk = events.create_child(event["id"], "sessions", {"title": "Talk", "state": "submitted"})
    assert events.update_child("sessions", talk["id"], {"title": "Keynote"})["title"] == "Keynote"
    assert events.delete_child("sessions", talk["id"]) == {"id": talk["id"], "deleted": True}
    assert changes["delete a child"]() == {"id": track["id"], "deleted": True}


def test_a_moderator_changes_a_sessions_state_and_nothing_else_of_it(
    events_rpc, user, owner, event, events_rows
):
    moderator = user("moderator")
    talk = events_rpc.acting(owner["id"]).create_child(
        event["id"], "sessions", {"title": "Talk", "state": "submitted"})
    events = events_rpc.acting(moderator["id"])

    def the_talk():
        return events_rpc.get_child("sessions", talk["id"])

    for change in ({"title": "Mine now"}, {"state": "accepted", "title": "Mine now"}):
        refused(AccessDenied, lambda change=change: events.update_child(
            "sessions", talk["id"], change), the_talk)
    refused(AccessDenied, lambda: events.delete_child("sessions", talk["id"]), the_talk)
    refused(AccessDenied, lambda: events.create_child(event["id"], "sessions",
                                                      {"title": "Mine"}), events_rows)
    reviewed = events.update_child("sessions", talk["id"], {"state": "accepted"})
    assert (reviewed["state"], reviewed["title"]) == ("accepted", "Talk")


def test_a_registrar_checks_attendees_in_and_changes_nothing_else(
    events_rpc, user, owner, event, events_rows
):
    registrar = user("registrar")
    organizer = events_rpc.acting(owner["id"])
    ticket = organizer.create_child(event["id"], "tickets", {"name": "Day pass", "type": "free"})
    guest = organizer.create_child(event["id"], "attendees",
                                   {"firstname": "Ada", "ticket_id": ticket["id"]})
    events = events_rpc.acting(registrar["id"])

    def the_guest():
        return events_rpc.get_child("attendees", guest["id"])

    assert (guest["checked_in"], guest["checked_in_at"]) == (False, None)
    refused(AccessDenied, lambda: events.update_child(
        "attendees", guest["id"], {"checked_in": True, "firstname": "Eve"}), the_guest)
    refused(AccessDenied, lambda: events.create_child(
        event["id"], "attendees", {"firstname": "Eve", "ticket_id": ticket["id"]}), events_rows)
    checked = events.update_child("attendees", guest["id"], {"checked_in": True})
    assert checked["checked_in"] is True and checked["checked_in_at"] is not None
    again = events.update_child("attendees", guest["id"], {"checked_in": True})
    assert again["checked_in_at"] == checked["checked_in_at"]  # when they came in, kept
    undone = events.update_child("attendees", guest["id"], {"checked_in": False})
    assert (undone["checked_in"], undone["checked_in_at"]) == (False, None)


def test_the_owner_may_delete_the_event(events_rpc, user, event, roles_caught_up):
    events_rpc.acting(user("owner")["id"]).delete_event(event["id"])

    with pytest.raises(EventNotFound):
        events_rpc.get_event(event["id"])
    roles_caught_up(deleted=[event["id"]])


def test_an_admin_without_a_role_may_make_every_change(
    events_rpc, user, event, track, roles_caught_up
):
    changes = event_changes(events_rpc, user("admin"), event, track)

    for name in ("update the event", "create a child", "update a child", "delete a child"):
        changes[name]()
    copy = changes["copy the event"]()
    changes["delete the event"]()

    with pytest.raises(EventNotFound):
        events_rpc.get_event(event["id"])
    roles_caught_up(created=[copy["id"]], deleted=[event["id"]])


def test_only_a_signed_up_user_may_create_an_event(events_rpc, user, events_rows, roles_caught_up):
    refused(
        AccessDenied, lambda: events_rpc.acting(UNKNOWN_USER_ID).create_event(EVENT), events_rows
    )

    created = events_rpc.acting(user("stranger")["id"]).create_event(EVENT)
    roles_caught_up(created=[created["id"]])


def test_an_unknown_actor_may_change_nothing(events_rpc, event, track, events_rows):
    unknown = {"id": UNKNOWN_USER_ID}
    for change in event_changes(events_rpc, unknown, event, track).values():
        refused(AccessDenied, change, events_rows)


def test_a_proof_that_names_no_user_may_change_nothing(events_rpc, event, track, events_rows):
    for actor_id in (None, 0, True, 2**63):
        for change in event_changes(events_rpc, {"id": actor_id}, event, track).values():
            refused(ActorNotProven, change, events_rows)


def test_a_call_without_a_proof_of_who_acts_may_change_nothing(events_rpc, event, events_rows):
    refused(ActorNotProven, lambda: events_rpc.create_event(EVENT), events_rows)
    refused(ActorNotProven, lambda: events_rpc.update_event(event["id"], {"name": "Taken"}),
            events_rows)


def test_without_the_roles_service_nothing_changes(
    container_factory, events_config, events_session, events_rows
):
    event = events_module.create_event(events_session, 7, EVENT)
    events_session.commit()
    events = start_service(container_factory, EventsService, {**events_config, "RPC_TIMEOUT": 2})
    before = events_rows()

    with pytest.raises(Unavailable, match="roles"):
        events.acting(7).create_event(EVENT)
    with pytest.raises(Unavailable, match="roles"):
        events.acting(7).update_event(event["id"], {"name": "Renamed"})

    assert events_rows() == before


# the media service


@pytest.fixture
def media_rpc(media_beside_roles):
    """The media service over RPC, called as a caller that skips the gateway would."""
    with Remote("media", media_beside_roles.container.config) as proxy:
        yield proxy


@pytest.fixture
def sponsor(events_rpc, media_rpc, owner, event):
    """A sponsor of the event; the owner has given the event an original
    (with its renditions) and the sponsor a logo."""
    sponsor = events_rpc.acting(owner["id"]).create_child(event["id"], "sponsors", {"name": "ACME"})
    media_rpc.acting(owner["id"]).upload_event_image(event["id"], "original", b64(image("red")))
    media_rpc.acting(owner["id"]).upload_sponsor_logo(sponsor["id"], b64(LOGO))
    return sponsor


def image_changes(media, actor, event, sponsor):
    """Each change of the event's and its sponsor's images, as `actor` would make it."""
    return {
        "upload an event image": lambda: media.acting(actor["id"]).upload_event_image(
            event["id"], "logo", b64(LOGO)
        ),
        "delete an event image": lambda: media.acting(actor["id"]).delete_event_image(
            event["id"], "original"
        ),
        "upload a sponsor logo": lambda: media.acting(actor["id"]).upload_sponsor_logo(
            sponsor["id"], b64(image("green", (300, 100)))
        ),
        "delete a sponsor logo": lambda: media.acting(actor["id"]).delete_sponsor_logo(
            sponsor["id"]
        ),
    }


@pytest.fixture
def images(events_rpc, event, media_db, media_root):
    """A reader of everything the media service stored, and of the media
    URLs the events service shows for the event and its sponsor."""
    return lambda: (
        stored(media_db, media_root),
        event_urls(events_rpc, event["id"]),
        sponsor_logos(events_rpc, event["id"]),
    )


@pytest.mark.parametrize("who", ["stranger", "coorganizer"])
def test_only_organizers_may_change_images(media_rpc, user, event, sponsor, images, who):
    actor = user(who)
    for change in image_changes(media_rpc, actor, event, sponsor).values():
        refused(AccessDenied, change, images)


@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_an_organizer_may_upload_and_delete_images(
    media_rpc, events_rpc, user, event, sponsor, who
):
    changes = image_changes(media_rpc, user(who), event, sponsor)

    [logo] = changes["upload an event image"]()["media"]
    changes["delete an event image"]()
    assert event_urls(events_rpc, event["id"]) == {**NO_URLS, "logo_url": logo["url"]}
    [sponsor_logo] = changes["upload a sponsor logo"]()["media"]
    assert sponsor_logos(events_rpc, event["id"]) == {sponsor["id"]: sponsor_logo["url"]}
    changes["delete a sponsor logo"]()
    assert sponsor_logos(events_rpc, event["id"]) == {sponsor["id"]: None}
