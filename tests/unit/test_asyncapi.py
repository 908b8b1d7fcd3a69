"""The AsyncAPI document describes every message type as the code has it:
its exchange and routing key, its schema (which takes what the type
publishes and refuses what it refuses), its version; the committed
`docs/asyncapi.yaml` is that document (`make asyncapi` rewrites it), and
the gateway serves it."""
import pytest
import yaml

from contracts.asyncapi import document
from contracts.catalog import message_types
from contracts.events.messages import EventCopied
from contracts.media.messages import MediaChanged
from scripts.asyncapi import PATH, rendered
from shared.broker import exchanges
from tests.support.asyncapi import payload_validator


def test_the_committed_document_is_up_to_date():
    assert PATH.read_text() == rendered(), "out of date: docs/asyncapi.yaml; run make asyncapi"
    assert yaml.safe_load(PATH.read_text()) == document()


@pytest.mark.parametrize("message", message_types(), ids=lambda message: message.event_type)
def test_each_message_type_has_its_channel_on_its_services_exchange(message):
    doc = document()
    channel = doc["channels"][message.event_type]
    exchange = channel["bindings"]["amqp"]["exchange"]

    assert channel["address"] == message.event_type
    assert (exchange["name"], exchange["type"], exchange["durable"]) == (
        f"{message.source}.events", "topic", True)
    assert exchange["name"] in exchanges()  # where `make db` declares it
    described = doc["components"]["messages"][message.__name__]
    assert described["x-version"] == message.model_fields["version"].default
    assert described["x-source"] == message.source
    schema = doc["components"]["schemas"][message.__name__]
    assert set(schema["required"]) == set(message.model_fields)


def test_the_schema_takes_what_a_type_publishes_and_refuses_what_it_refuses():
    copied = EventCopied(source_event_id=1, source_identifier="a", event_id=2, identifier="b",
                         actor_id=3, sponsor_ids={4: 5}).to_payload()
    validator = payload_validator(document(), "event.copied")

    assert list(validator.iter_errors(copied)) == []
    for wrong in ({**copied, "unknown": 1}, {**copied, "event_id": "two"},
                  {key: value for key, value in copied.items() if key != "message_id"},
                  {**copied, "version": 2}):
        assert list(validator.iter_errors(wrong)), wrong


def test_a_later_version_is_described_as_itself():
    changed = MediaChanged(event_id=1, media_version=3, event_urls={}, sponsor_urls={})
    validator = payload_validator(document(), "media.changed")

    assert list(validator.iter_errors(changed.to_payload())) == []
    assert list(validator.iter_errors({**changed.to_payload(), "version": 1}))
    assert document()["components"]["messages"]["MediaChanged"]["x-version"] == 2


def test_the_gateway_serves_the_document(gateway):
    response = gateway.http.get("/v1/asyncapi.json")

    assert response.status_code == 200
    assert response.json() == document()
