"""Event copy through the events service's RPC, on the real PostgreSQL and
RabbitMQ: what is copied, what never is, links remapped, all or nothing,
idempotent."""
import pytest
from nameko.constants import AMQP_URI_CONFIG_KEY
from sqlalchemy import text

from contracts.errors import AccessDenied, EventNotFound
from contracts.events.errors import CopyFailed, IdempotencyKeyReused, InvalidEventData
from contracts.events.messages import EventCopied
from services.events import children, events
from shared.actors import ActorNotProven
from tests.support.services import Remote, proof_of
from tests.support.tap import EventTap

OWNER, COPIER = 7, 8
CHILDREN = ("taxes", "tickets", "social-links", "sponsors", "microlocations", "tracks",
            "speakers-calls", "discount-codes", "custom-forms", "session-types")
NEVER_COPIED = ("orders", "attendees", "access-codes")


@pytest.fixture
def rpc(events, events_config):
    """The events service (beside the stand-in roles service), over RPC."""
    with Remote("events", events_config) as proxy:
        yield proxy


@pytest.fixture
def tap(rabbit_config):
    tap = EventTap(rabbit_config[AMQP_URI_CONFIG_KEY], "events", "event.copied")
    yield tap
    tap.close()


@pytest.fixture
def source(events_session):
    """A published event with one or two rows of every kind, some soft-deleted."""
    s = events_session
    event = events.create_event(s, OWNER, {
        "name": "PyCon", "starts_at": "2027-05-01T09:00:00+02:00",
        "ends_at": "2027-05-03T18:00:00+02:00", "timezone": "Europe/Berlin",
        "state": "published", "description": "The big one", "location_name": "Berlin",
    })
    add = lambda kind, data: children.create_child(s, event["id"], kind, OWNER, data)  # noqa: E731
    free = add("tickets", {"name": "Free", "type": "free"})
    paid = add("tickets", {"name": "Paid", "type": "paid", "price": "100.00", "quantity": 50})
    gone = add("tickets", {"name": "Withdrawn", "type": "free"})
    add("taxes", {"name": "VAT", "rate": "19"})
    add("social-links", {"name": "Site", "link": "https://pycon.example"})
    add("sponsors", {"name": "ACME", "level": 1})
    add("sponsors", {"name": "Globex"})
    room = add("microlocations", {"name": "Hall A", "floor": 1})
    track = add("tracks", {"name": "Web", "color": "#112233"})
    add("speakers-calls", {"announcement": "Talk to us", "starts_at": "2027-01-01T00:00:00Z"})
    code = add("discount-codes", {"code": "EARLY", "type": "percent", "value": "10",
                                  "ticket_ids": [free["id"], paid["id"]]})
    add("custom-forms", {"form": "attendee", "field_identifier": "shirt", "type": "text"})
    kind = add("session-types", {"name": "Talk", "length": "00:30"})
    speaker = add("speakers", {"name": "Ada"})
    add("sessions", {"title": "Async", "track_id": track["id"], "microlocation_id": room["id"],
                     "session_type_id": kind["id"], "speaker_ids": [speaker["id"]]})
    order = add("orders", {"status": "completed", "amount": "100.00"})
    add("attendees", {"firstname": "Bob", "ticket_id": paid["id"], "order_id": order["id"]})
    add("access-codes", {"code": "VIP", "ticket_ids": [paid["id"]]})
    children.delete_child(s, "tickets", gone["id"], OWNER)
    s.execute(text("UPDATE events SET logo_url = 'http://localhost:8000/media/abc'"))
    s.commit()
    return {**event, "code": code, "free": free, "paid": paid}


def _all(session, ref, kind):
    return children.list_children(session, ref, kind, limit=200)["items"]


def _own_fields(row):
    return {k: v for k, v in row.items()
            if k not in ("id", "event_id", "created_at", "ticket_ids", "speaker_ids",
                         "track_id", "microlocation_id", "session_type_id")}


def _copies_of(session, source_id):
    return session.scalar(text("SELECT count(*) FROM events WHERE copied_from_id = :id"),
                          {"id": source_id})


def test_the_copy_is_a_new_draft_event_pointing_at_its_source(rpc, source, events_session):
    answer = rpc.acting(COPIER).copy_event(source["identifier"])
    assert answer["copied"] is True
    assert answer["copied_from"] == {"id": source["id"], "identifier": source["identifier"]}
    assert answer["id"] != source["id"] and answer["identifier"] != source["identifier"]

    copy = rpc.get_event(answer["identifier"])
    assert copy["state"] == "draft"
    assert copy["copied_from_id"] == source["id"]
    for field in ("name", "description", "starts_at", "ends_at", "timezone", "location_name"):
        assert copy[field] == source[field]


def test_a_new_name_can_be_given(rpc, source):
    answer = rpc.acting(COPIER).copy_event(source["id"], name="PyCon 2028")
    assert rpc.get_event(answer["id"])["name"] == "PyCon 2028"


def test_every_live_related_row_is_copied_with_its_fields(rpc, source, events_session):
    answer = rpc.acting(COPIER).copy_event(source["id"])
    for kind in CHILDREN:
        originals = _all(events_session, source["id"], kind)
        copies = _all(events_session, answer["id"], kind)
        assert [_own_fields(row) for row in copies] == [_own_fields(row) for row in originals]
        assert not {row["id"] for row in copies} & {row["id"] for row in originals}
    assert [t["name"] for t in _all(events_session, answer["id"], "tickets")] == ["Free", "Paid"]


def test_orders_attendees_access_codes_and_sessions_are_not_copied(rpc, source, events_session):
    answer = rpc.acting(COPIER).copy_event(source["id"])
    for kind in NEVER_COPIED + ("sessions", "speakers"):
        assert _all(events_session, answer["id"], kind) == [], kind


def test_discount_code_links_point_at_the_copied_tickets(rpc, source, events_session):
    answer = rpc.acting(COPIER).copy_event(source["id"])
    copied_tickets = {t["name"]: t["id"] for t in _all(events_session, answer["id"], "tickets")}
    [code] = _all(events_session, answer["id"], "discount-codes")
    assert code["ticket_ids"] == sorted([copied_tickets["Free"], copied_tickets["Paid"]])
    [original] = _all(events_session, source["id"], "discount-codes")
    assert original["ticket_ids"] == sorted([source["free"]["id"], source["paid"]["id"]])


def test_sessions_and_speakers_are_copied_on_request_with_remapped_links(
        rpc, source, events_session):
    answer = rpc.acting(COPIER).copy_event(source["id"], include=["sessions"])
    [session] = _all(events_session, answer["id"], "sessions")
    [speaker] = _all(events_session, answer["id"], "speakers")
    [track] = _all(events_session, answer["id"], "tracks")
    [room] = _all(events_session, answer["id"], "microlocations")
    [kind] = _all(events_session, answer["id"], "session-types")
    assert (session["track_id"], session["microlocation_id"], session["session_type_id"]) == (
        track["id"], room["id"], kind["id"])
    assert session["speaker_ids"] == [speaker["id"]]


def test_the_copy_does_not_share_the_sources_media_urls(rpc, source):
    answer = rpc.acting(COPIER).copy_event(source["id"])
    assert rpc.get_event(source["id"])["logo_url"]
    assert rpc.get_event(answer["id"])["logo_url"] is None


def test_event_copied_is_published_with_the_sponsor_id_map(rpc, source, tap, events_session):
    answer = rpc.acting(COPIER).copy_event(source["id"])
    routing_key, payload = tap.next()
    message = EventCopied.parse(payload)
    assert routing_key == "event.copied"
    assert (message.event_id, message.identifier, message.actor_id) == (
        answer["id"], answer["identifier"], COPIER)
    assert (message.source_event_id, message.source_identifier) == (
        source["id"], source["identifier"])
    old = [s["id"] for s in _all(events_session, source["id"], "sponsors")]
    new = [s["id"] for s in _all(events_session, answer["id"], "sponsors")]
    assert message.sponsor_ids == dict(zip(old, new, strict=True))


def test_a_copy_failing_part_way_leaves_no_trace_and_sends_nothing(
        rpc, source, tap, events_session):
    events_session.execute(text(
        f"ALTER TABLE custom_forms ADD CONSTRAINT only_the_source"
        f" CHECK (event_id = {source['id']}) NOT VALID"))
    events_session.commit()
    try:
        with pytest.raises(CopyFailed):
            rpc.acting(COPIER).copy_event(source["id"], idempotency_key="first-try")
    finally:
        events_session.execute(text("ALTER TABLE custom_forms DROP CONSTRAINT only_the_source"))
        events_session.commit()

    def count(table, where="true"):
        return events_session.scalar(text(f"SELECT count(*) FROM {table} WHERE {where}"))

    assert count("events") == 1
    assert (count("tickets"), count("sponsors"), count("discount_code_tickets")) == (3, 2, 2)
    assert count("copy_requests") == 0
    assert count("outbox", "event_type = 'event.copied'") == 0

    # the next message on the exchange is the successful retry's, not the failed one's
    answer = rpc.acting(COPIER).copy_event(source["id"], idempotency_key="first-try")
    assert EventCopied.parse(tap.next()[1]).event_id == answer["id"]


def test_the_same_idempotency_key_returns_the_first_copy(rpc, source, events_session):
    first = rpc.acting(COPIER).copy_event(source["id"], idempotency_key="abc")
    again = rpc.acting(COPIER).copy_event(source["identifier"], idempotency_key="abc")
    assert again == first
    assert _copies_of(events_session, source["id"]) == 1
    other_actor = rpc.acting(OWNER).copy_event(source["id"], idempotency_key="abc")
    assert other_actor["id"] != first["id"]


def test_racing_requests_with_one_key_make_one_copy(rpc, source, events_session):
    with Remote("events", rpc.config, context_data=proof_of(COPIER)) as copier:
        calls = [copier.copy_event.call_async(source["id"], idempotency_key="race")
                 for _ in range(10)]
        answers = [call.result() for call in calls]
    assert all(answer == answers[0] for answer in answers)
    assert _copies_of(events_session, source["id"]) == 1


def test_a_refused_copy_claims_no_idempotency_key(rpc, source, roles_stub, events_session):
    roles_stub.refused.add(COPIER)
    with pytest.raises(AccessDenied):
        rpc.acting(COPIER).copy_event(source["id"], idempotency_key="mine")
    assert events_session.scalar(text("SELECT count(*) FROM copy_requests")) == 0

    roles_stub.refused.clear()
    assert rpc.acting(COPIER).copy_event(source["id"], idempotency_key="mine")["copied"] is True
    assert _copies_of(events_session, source["id"]) == 1


def test_a_key_used_for_another_event_is_refused(rpc, source, events_session):
    other = events.create_event(events_session, OWNER, {
        "name": "Other", "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-01-02T00:00:00Z"})
    events_session.commit()
    rpc.acting(COPIER).copy_event(source["id"], idempotency_key="once")
    with pytest.raises(IdempotencyKeyReused):
        rpc.acting(COPIER).copy_event(other["id"], idempotency_key="once")


@pytest.mark.parametrize("ref", ["ffffffff", "999999", -1, None, "../etc", "9" * 30, True])
def test_copying_an_unknown_event_is_an_error(rpc, source, ref):
    with pytest.raises(EventNotFound):
        rpc.acting(COPIER).copy_event(ref)


@pytest.mark.parametrize("arguments", [
    {"include": ["orders"]}, {"include": "sessions"}, {"name": ""}, {"name": 5},
    {"idempotency_key": ""}, {"idempotency_key": "x" * 256},
])
def test_bad_copy_arguments_are_refused(rpc, source, arguments, events_session):
    with pytest.raises(InvalidEventData):
        rpc.acting(COPIER).copy_event(source["id"], **arguments)
    assert _copies_of(events_session, source["id"]) == 0


@pytest.mark.parametrize("actor_id", [None, 0, True, 2**63])
def test_a_proof_that_names_no_user_is_refused(rpc, source, actor_id, events_session):
    with pytest.raises(ActorNotProven):
        rpc.acting(actor_id).copy_event(source["id"])
    assert _copies_of(events_session, source["id"]) == 0


def test_a_copy_without_a_proof_of_who_acts_is_refused(rpc, source, events_session):
    with pytest.raises(ActorNotProven):
        rpc.copy_event(source["id"])
    assert _copies_of(events_session, source["id"]) == 0
