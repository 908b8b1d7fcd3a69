"""Events and their children through the real EventsService: a nameko
container on the real PostgreSQL and RabbitMQ, called at its entrypoints."""
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from contracts.errors import AccessDenied, EventNotFound
from contracts.events.errors import ChildNotFound, InvalidEventData, UnknownKind
from contracts.events.messages import EventCreated, EventDeleted
from services.events import events as events_module
from services.events import models
from services.events.service import EventsService
from shared.actors import ActorNotProven
from shared.tables import outbox
from tests.support.services import start_service
from tests.support.tap import EventTap

OWNER = 7
EVENT = {"name": "PyCon", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00", "timezone": "Europe/Berlin"}


@pytest.fixture
def events_unrelayed(events_config, container_factory, roles_stub):
    """The service with its outbox relay stopped: messages stay in the outbox."""
    return start_service(container_factory, EventsService, events_config, without=["relay"])


@pytest.fixture
def event(events):
    return events.acting(OWNER).create_event(EVENT)


def outbox_payloads(session, event_type):
    return session.scalars(select(outbox.c.payload).where(outbox.c.event_type == event_type)).all()


# events


def test_creating_an_event_answers_it_with_its_new_identifier(events):
    created = events.acting(OWNER).create_event({**EVENT, "description": "The conference"})

    assert isinstance(created["id"], int)
    assert re.fullmatch(r"[0-9a-f]{8}", created["identifier"])
    assert not created["identifier"].isdigit()
    assert created["owner_id"] == OWNER
    assert created["starts_at"] == "2030-05-01T07:00:00+00:00"
    assert created["ends_at"] == "2030-05-03T16:00:00+00:00"
    assert created["timezone"] == "Europe/Berlin"
    assert (created["state"], created["privacy"]) == ("draft", "public")
    assert created["description"] == "The conference"
    assert created["copied_from_id"] is None and created["logo_url"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*\+00:00", created["created_at"])
    assert "deleted_at" not in created


def test_each_event_gets_its_own_identifier(events):
    identifiers = {events.acting(OWNER).create_event(EVENT)["identifier"] for _ in range(5)}
    assert len(identifiers) == 5


def drawing(monkeypatch, *identifiers):
    """Make the identifier generator draw `identifiers`, in order."""
    drawn = iter(identifiers)
    monkeypatch.setattr(events_module, "secrets", SimpleNamespace(token_hex=lambda _: next(drawn)))


def test_a_new_identifier_is_never_all_digits_nor_taken(event, events_session, monkeypatch):
    drawing(monkeypatch, "12345678", event["identifier"], "0a1b2c3d")
    assert events_module.new_identifier(events_session) == "0a1b2c3d"


def test_an_identifier_taken_meanwhile_is_drawn_again(events, event, monkeypatch):
    """A concurrent insert can take the identifier after the check: the
    insert fails in its savepoint and the event is inserted anew."""
    drawing(monkeypatch, event["identifier"], "0a1b2c3d")
    monkeypatch.setattr(events_module, "_identifier_taken", lambda session, identifier: False)

    created = events.acting(OWNER).create_event(EVENT)

    assert created["identifier"] == "0a1b2c3d"
    assert events.get_event("0a1b2c3d") == created


def test_an_event_is_found_by_id_and_by_identifier(events, event):
    assert events.get_event(event["id"]) == event
    assert events.get_event(str(event["id"])) == event
    assert events.get_event(event["identifier"]) == event


def test_an_unknown_event_is_not_found(events):
    with pytest.raises(EventNotFound):
        events.get_event(424242)
    with pytest.raises(EventNotFound):
        events.get_event("abcdef12")


def test_creating_an_event_refuses_bad_data_and_writes_nothing(events, events_session,
                                                               roles_stub):
    roles_stub.unknown.add(99)
    with pytest.raises(AccessDenied, match="not signed up"):
        events.acting(99).create_event(EVENT)
    with pytest.raises(InvalidEventData, match="colour: unknown field"):
        events.acting(OWNER).create_event({**EVENT, "colour": "red"})
    with pytest.raises(InvalidEventData, match="ends_at must be after starts_at"):
        events.acting(OWNER).create_event({**EVENT, "ends_at": EVENT["starts_at"]})
    with pytest.raises(ActorNotProven):
        events.acting(None).create_event(EVENT)
    with pytest.raises(ActorNotProven):
        events.create_event(EVENT)
    assert events_session.scalars(select(models.Event)).all() == []


def test_an_update_changes_only_the_fields_sent(events, event, events_session):
    updated = events.acting(OWNER).update_event(event["identifier"],
                                                {"name": "PyCon 2030", "description": None})

    assert updated == {**event, "name": "PyCon 2030", "description": None}
    stored = events_session.get(models.Event, event["id"])
    assert stored.name == "PyCon 2030"
    assert stored.starts_at == datetime(2030, 5, 1, 7, tzinfo=UTC)


def test_an_update_is_checked_against_the_rest_of_the_event(events, event):
    with pytest.raises(InvalidEventData, match="ends_at must be after starts_at"):
        events.acting(OWNER).update_event(event["id"], {"ends_at": "2030-04-01T00:00:00Z"})
    with pytest.raises(InvalidEventData, match="name"):
        events.acting(OWNER).update_event(event["id"], {"name": None})
    with pytest.raises(InvalidEventData, match="read-only field"):
        events.acting(OWNER).update_event(event["id"], {"identifier": "00000000"})
    assert events.get_event(event["id"]) == event


def test_a_deleted_event_is_gone_but_its_row_stays(events, event, events_session):
    answer = events.acting(OWNER).delete_event(event["identifier"])

    assert answer == {"id": event["id"], "identifier": event["identifier"], "deleted": True}
    for gone in (
        lambda: events.get_event(event["id"]),
        lambda: events.acting(OWNER).update_event(event["id"], {"name": "x"}),
        lambda: events.acting(OWNER).delete_event(event["id"]),
    ):
        with pytest.raises(EventNotFound):
            gone()
    assert events_session.get(models.Event, event["id"]).deleted_at is not None


def test_create_and_delete_write_their_messages_to_the_outbox(events_unrelayed, events_session):
    created = events_unrelayed.acting(OWNER).create_event(EVENT)
    events_unrelayed.acting(OWNER).delete_event(created["id"])

    [created_payload] = outbox_payloads(events_session, "event.created")
    message = EventCreated.parse(created_payload)
    assert (message.event_id, message.identifier, message.owner_id) == (
        created["id"],
        created["identifier"],
        OWNER,
    )
    [deleted_payload] = outbox_payloads(events_session, "event.deleted")
    message = EventDeleted.parse(deleted_payload)
    assert (message.event_id, message.identifier) == (created["id"], created["identifier"])


def test_a_refused_event_writes_no_message(events_unrelayed, events_session):
    with pytest.raises(InvalidEventData):
        events_unrelayed.acting(OWNER).create_event({"name": "no times"})
    assert outbox_payloads(events_session, "event.created") == []


def test_the_relay_publishes_event_created(events, events_config):
    tap = EventTap(events_config["AMQP_URI"], "events", routing_key="event.created")
    try:
        created = events.acting(OWNER).create_event(EVENT)
        routing_key, payload = tap.next()
    finally:
        tap.close()
    assert routing_key == "event.created"
    assert EventCreated.parse(payload).event_id == created["id"]


# children


def test_a_child_is_created_read_updated_and_deleted(events, event):
    track = events.acting(OWNER).create_child(
        event["id"], "tracks", {"name": "Web", "color": "#1A2B3C"}
    )
    assert track == {
        "id": track["id"],
        "event_id": event["id"],
        "name": "Web",
        "color": "#1A2B3C",
        "description": None,
        "created_at": track["created_at"],
    }
    assert events.get_child("tracks", track["id"]) == track

    updated = events.acting(OWNER).update_child("tracks", track["id"], {"description": "All web"})
    assert updated == {**track, "description": "All web"}

    assert events.acting(OWNER).delete_child("tracks", track["id"]) == {
        "id": track["id"],
        "deleted": True,
    }
    with pytest.raises(ChildNotFound):
        events.get_child("tracks", track["id"])
    with pytest.raises(ChildNotFound):
        events.acting(OWNER).update_child("tracks", track["id"], {"name": "x"})


def test_a_ticket_answers_money_as_a_decimal_string(events, event):
    ticket = events.acting(OWNER).create_child(
        event["identifier"],
        "tickets",
        {
            "name": "Standard",
            "type": "paid",
            "price": "12.5",
            "sales_starts_at": "2030-01-01T00:00:00-05:00",
        },
    )
    assert ticket["price"] == "12.50"
    assert ticket["sales_starts_at"] == "2030-01-01T05:00:00+00:00"


def test_a_list_is_paginated_by_id_and_skips_deleted_children(events, event):
    names = [f"Room {n}" for n in range(5)]
    rooms = [
        events.acting(OWNER).create_child(event["id"], "microlocations", {"name": name})
        for name in names
    ]
    events.acting(OWNER).delete_child("microlocations", rooms[0]["id"])

    page = events.list_children(event["id"], "microlocations", limit=2, offset=1)

    assert page["total"] == 4
    assert (page["limit"], page["offset"]) == (2, 1)
    assert page["items"] == rooms[2:4]
    assert events.list_children(event["id"], "microlocations")["limit"] == 50
    assert events.list_children(event["id"], "tracks") == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }


def test_a_list_refuses_a_bad_window(events, event):
    for limit, offset in ((0, 0), (201, 0), (10, -1), ("many", 0)):
        with pytest.raises(InvalidEventData):
            events.list_children(event["id"], "tracks", limit=limit, offset=offset)


def test_a_discount_code_links_tickets_of_its_event(events, event, events_session):
    first, second = (
        events.acting(OWNER).create_child(event["id"], "tickets", {"name": name, "type": "free"})
        for name in ("Day 1", "Day 2")
    )
    code = events.acting(OWNER).create_child(
        event["id"],
        "discount-codes",
        {
            "code": "EARLY",
            "type": "percent",
            "value": "10",
            "ticket_ids": [second["id"], first["id"], second["id"]],
        },
    )
    assert code["ticket_ids"] == [first["id"], second["id"]]
    assert code["value"] == "10.00"

    updated = events.acting(OWNER).update_child(
        "discount-codes", code["id"], {"ticket_ids": [second["id"]]}
    )
    assert updated["ticket_ids"] == [second["id"]]
    links = events_session.execute(select(models.discount_code_tickets)).all()
    assert links == [(code["id"], second["id"])]

    untouched = events.acting(OWNER).update_child("discount-codes", code["id"], {"code": "EARLIER"})
    assert untouched["ticket_ids"] == [second["id"]]


def test_listing_answers_each_childs_own_links(events, event):
    tickets = [
        events.acting(OWNER).create_child(
            event["id"], "tickets", {"name": f"T{n}", "type": "free"}
        )["id"]
        for n in range(3)
    ]
    for n in range(3):
        events.acting(OWNER).create_child(
            event["id"], "access-codes", {"code": f"C{n}", "ticket_ids": tickets[:n]}
        )

    items = events.list_children(event["id"], "access-codes")["items"]

    assert [item["ticket_ids"] for item in items] == [[], tickets[:1], tickets[:2]]


def test_a_deleted_ticket_leaves_the_codes_linking_it(events, event):
    ticket = events.acting(OWNER).create_child(
        event["id"], "tickets", {"name": "T", "type": "free"}
    )
    code = events.acting(OWNER).create_child(
        event["id"],
        "discount-codes",
        {"code": "X", "type": "amount", "value": "5", "ticket_ids": [ticket["id"]]},
    )

    events.acting(OWNER).delete_child("tickets", ticket["id"])

    assert events.get_child("discount-codes", code["id"])["ticket_ids"] == []


def test_a_session_refers_to_its_track_and_speakers(events, event):
    track = events.acting(OWNER).create_child(
        event["id"], "tracks", {"name": "Web", "color": "#000000"}
    )
    ada, grace = (
        events.acting(OWNER).create_child(event["id"], "speakers", {"name": name})
        for name in ("Ada", "Grace")
    )
    talk = events.acting(OWNER).create_child(
        event["id"],
        "sessions",
        {
            "title": "Engines",
            "track_id": track["id"],
            "speaker_ids": [grace["id"], ada["id"]],
            "starts_at": "2030-05-01T10:00:00Z",
            "ends_at": "2030-05-01T11:00:00Z",
        },
    )
    assert talk["track_id"] == track["id"]
    assert talk["speaker_ids"] == sorted([ada["id"], grace["id"]])

    updated = events.acting(OWNER).update_child(
        "sessions", talk["id"], {"speaker_ids": [], "track_id": None}
    )
    assert (updated["speaker_ids"], updated["track_id"]) == ([], None)

    with pytest.raises(InvalidEventData, match="ends_at must be after starts_at"):
        events.acting(OWNER).update_child(
            "sessions", talk["id"], {"ends_at": "2030-05-01T09:00:00Z"}
        )


def test_a_child_cannot_refer_to_another_events_rows(events, event, events_session):
    other = events.acting(OWNER).create_event(EVENT)
    foreign = events.acting(OWNER).create_child(
        other["id"], "tickets", {"name": "T", "type": "free"}
    )

    with pytest.raises(InvalidEventData, match=rf"ticket_ids: no tickets \[{foreign['id']}\]"):
        events.acting(OWNER).create_child(
            event["id"],
            "discount-codes",
            {"code": "X", "type": "amount", "value": "5", "ticket_ids": [foreign["id"]]},
        )
    with pytest.raises(InvalidEventData, match="ticket_id"):
        events.acting(OWNER).create_child(
            event["id"], "attendees", {"firstname": "Ada", "ticket_id": foreign["id"]}
        )
    assert events_session.scalars(select(models.DiscountCode)).all() == []
    assert events_session.scalars(select(models.Attendee)).all() == []


def test_a_child_cannot_refer_to_a_deleted_row(events, event):
    track = events.acting(OWNER).create_child(
        event["id"], "tracks", {"name": "Web", "color": "#000000"}
    )
    events.acting(OWNER).delete_child("tracks", track["id"])
    with pytest.raises(InvalidEventData, match="track_id"):
        events.acting(OWNER).create_child(
            event["id"], "sessions", {"title": "Talk", "track_id": track["id"]}
        )


def test_an_attendee_belongs_to_a_ticket_and_an_order(events, event):
    ticket = events.acting(OWNER).create_child(
        event["id"], "tickets", {"name": "T", "type": "free"}
    )
    order = events.acting(OWNER).create_child(event["id"], "orders", {"amount": "0"})
    attendee = events.acting(OWNER).create_child(
        event["id"],
        "attendees",
        {"firstname": "Ada", "ticket_id": ticket["id"], "order_id": order["id"]},
    )
    assert (attendee["ticket_id"], attendee["order_id"]) == (ticket["id"], order["id"])
    assert order["status"] == "initializing"


def test_an_unknown_kind_is_refused(events, event):
    with pytest.raises(UnknownKind):
        events.acting(OWNER).create_child(event["id"], "faqs", {"question": "?"})
    with pytest.raises(UnknownKind):
        events.list_children(event["id"], "faqs")
    with pytest.raises(UnknownKind):
        events.get_child("faqs", 1)


def test_a_child_with_an_unknown_or_read_only_field_is_refused(events, event):
    with pytest.raises(InvalidEventData, match="colour: unknown field"):
        events.acting(OWNER).create_child(
            event["id"], "tracks", {"name": "Web", "color": "#000000", "colour": "red"}
        )
    track = events.acting(OWNER).create_child(
        event["id"], "tracks", {"name": "Web", "color": "#000000"}
    )
    with pytest.raises(InvalidEventData, match="read-only field"):
        events.acting(OWNER).update_child("tracks", track["id"], {"event_id": 1})


def test_a_missing_child_is_not_found(events, event):
    for child_id in (999999, "999999", "x", -1, None, 2**70):
        with pytest.raises(ChildNotFound):
            events.get_child("tracks", child_id)


def test_the_children_of_a_deleted_event_are_gone(events, event):
    track = events.acting(OWNER).create_child(
        event["id"], "tracks", {"name": "Web", "color": "#000000"}
    )
    events.acting(OWNER).delete_event(event["id"])

    with pytest.raises(ChildNotFound):
        events.get_child("tracks", track["id"])
    with pytest.raises(EventNotFound):
        events.list_children(event["id"], "tracks")
    with pytest.raises(EventNotFound):
        events.acting(OWNER).create_child(
            event["id"], "tracks", {"name": "Web", "color": "#000000"}
        )
