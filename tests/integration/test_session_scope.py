"""Session scope in asynchronous work: the seed's DetachedInstanceError.

In Open Event Server a Celery task was handed ORM objects from the request's
session, which was gone by the time the task touched them. Here every worker
owns its own unit of work; messages and RPC answers carry ids and plain
data only; a consumer loads what it needs in its own transaction.
"""
import json
from datetime import datetime
from uuid import UUID

import eventlet
import pytest
from eventlet.event import Event as Signal
from eventlet.queue import Empty, Queue
from nameko.testing.services import entrypoint_hook
from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import DetachedInstanceError

from contracts.events.messages import EventCreated
from services.events import events as events_module
from services.events.models import Event
from services.events.service import EventsService
from shared.db import Database, UnitOfWork
from shared.handlers import consume
from shared.messages import InvalidMessage
from tests.support.services import Remote, proof_of

OWNER = 7
EVENT = {"name": "FOSSASIA Summit", "starts_at": "2030-03-14T09:00:00+08:00",
         "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore"}
PLAIN_JSON = (dict, list, str, int, float, bool, type(None))


def _create_event(session_factory):
    with UnitOfWork(session_factory).transaction() as session:
        return events_module.create_event(session, OWNER, EVENT)


# (a) the hazard, reproduced


def test_an_orm_object_used_after_its_transaction_ended_raises_detached_instance_error(
        events_db):
    session_factory = sessionmaker(bind=events_db)
    event_id = _create_event(session_factory)["id"]
    request_done = Signal()

    def background_task(event):
        # like the seed's Celery task: runs on after the request has ended
        request_done.wait()
        return event.name

    def background_task_with_plain_data(event_id, data):
        request_done.wait()
        return event_id, data["name"]

    with UnitOfWork(session_factory).transaction() as session:
        event = session.get(Event, event_id)
        assert event.name == EVENT["name"]  # fine while the transaction lasts
        with_orm_object = eventlet.spawn(background_task, event)
        with_plain_data = eventlet.spawn(background_task_with_plain_data,
                                         event.id, events_module.serialize_event(event))
    request_done.send()

    with pytest.raises(DetachedInstanceError, match="is not bound to a Session"):
        with_orm_object.wait()
    assert with_plain_data.wait() == (event_id, EVENT["name"])


# (b) our design: ids in the message, the consumer's own transaction


class EventNameRecorder:
    """Receives `event.created` and loads the event by id in its own unit of
    work (a test shortcut: a real service never reads another's database)."""

    name = "event_name_recorder"
    db = Database()
    received = None  # a fresh Queue per test (fixture `received`)

    @consume(EventCreated)
    def on_event_created(self, message):
        with self.db.transaction() as session:
            event = session.get(Event, message.event_id)
            name = event.name
        self.received.put((message, name))


@pytest.fixture
def received(monkeypatch):
    queue = Queue()
    monkeypatch.setattr(EventNameRecorder, "received", queue)
    return queue


def test_a_consumer_gets_ids_and_loads_the_event_in_its_own_transaction(
        container_factory, events_config, received, roles_stub):
    container_factory(EventNameRecorder, events_config).start()
    container_factory(EventsService, events_config).start()

    with Remote("events", events_config) as events:
        created = events.acting(OWNER).create_event(EVENT)

    try:
        message, name = received.get(timeout=10)
    except Empty:
        raise AssertionError("event.created was not handled within 10s") from None
    assert name == created["name"] == EVENT["name"]
    assert (message.event_id, message.identifier, message.owner_id) == (
        created["id"], created["identifier"], OWNER)
    fields = dict(message)
    assert set(fields) == {"message_id", "occurred_at", "version",
                           "event_id", "identifier", "owner_id"}
    assert all(isinstance(value, int | str | UUID | datetime) for value in fields.values())


# (c) a message refuses an ORM object


def test_a_message_refuses_an_orm_object_as_a_field_value(events_db):
    session_factory = sessionmaker(bind=events_db)
    event_id = _create_event(session_factory)["id"]
    with session_factory() as session:
        event = session.get(Event, event_id)

        with pytest.raises(ValidationError, match="event_id"):
            EventCreated(event_id=event, identifier=event.identifier, owner_id=OWNER)
        with pytest.raises(ValidationError, match="identifier"):
            EventCreated(event_id=event.id, identifier=event, owner_id=OWNER)
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            EventCreated(event_id=event.id, identifier=event.identifier, owner_id=OWNER,
                         event=event)
        with pytest.raises(InvalidMessage, match="event_id"):
            EventCreated.parse({"event_id": event, "identifier": event.identifier,
                                "owner_id": OWNER})

        message = EventCreated(event_id=event.id, identifier=event.identifier, owner_id=OWNER)
    assert json.loads(json.dumps(message.to_payload())) == message.to_payload()


# (d) RPC answers are plain data


def test_rpc_answers_are_plain_json_data(container_factory, events_config, roles_stub):
    container = container_factory(EventsService, events_config)
    container.start()

    # entrypoint_hook hands back what the method returned, not what went
    # over the wire after serialization
    with entrypoint_hook(container, "create_event", context_data=proof_of(OWNER)) as create_event:
        created = create_event(EVENT)
    with entrypoint_hook(container, "get_event") as get_event:
        answer = get_event(created["id"])

    assert answer["name"] == EVENT["name"]
    assert json.loads(json.dumps(answer)) == answer
    assert all(isinstance(value, PLAIN_JSON) for value in answer.values())
