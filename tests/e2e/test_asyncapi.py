"""The AsyncAPI document the gateway serves holds every message the system
publishes: a queue bound with `#` to each event exchange on the system's
vhost captures everything published while the demo tells the whole story,
and each message must be of a channel of the document, on that channel's
exchange, and valid by its schema."""
import subprocess
from urllib.parse import quote

from shared.broker import Management
from tests.conftest import ROOT
from tests.support.asyncapi import payload_validator
from tests.support.http import ok
from tests.support.tap import EventTap

QUIET_SECONDS = 2.0  # the story has ended once nothing more arrives for this long


def event_exchanges(vhost):
    """Every `{service}.events` exchange on the vhost, whatever the document says."""
    api = Management()
    try:
        return sorted(exchange["name"] for exchange in api.get(f"exchanges/{quote(vhost, safe='')}")
                      if exchange["name"].endswith(".events"))
    finally:
        api.close()


def captured(tap):
    messages = []
    while True:
        try:
            messages.append(tap.next(timeout=QUIET_SECONDS))
        except AssertionError:
            return messages


def test_every_message_of_the_story_is_in_the_document_and_valid_by_its_schema(system):
    document = ok(system.api.get("/v1/asyncapi.json"))
    taps = {exchange: EventTap(system.env["AMQP_URI"], exchange.removesuffix(".events"))
            for exchange in event_exchanges(system.vhost)}
    try:
        story = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "scripts/demo.py"], cwd=ROOT,
            env={**system.env, "GATEWAY_URL": system.base_url,
                 "MAILDEV_URL": f"http://127.0.0.1:{system.mailbox.web_port}"},
            capture_output=True, text=True, timeout=120)
        assert story.returncode == 0, story.stdout + story.stderr
        seen = [(exchange, *message) for exchange, tap in taps.items()
                for message in captured(tap)]
    finally:
        for tap in taps.values():
            tap.close()

    missing = sorted({key for _, key, _ in seen} - set(document["channels"]))
    assert not missing, f"published, but not in the AsyncAPI document: {missing}"
    for exchange, routing_key, payload in seen:
        channel = document["channels"][routing_key]
        assert channel["bindings"]["amqp"]["exchange"]["name"] == exchange, routing_key
        errors = [error.message for error in
                  payload_validator(document, routing_key).iter_errors(payload)]
        assert not errors, f"{routing_key}: {errors} in {payload}"
    assert {"event.created", "event.copied", "invite.created", "invite.accepted",
            "user.registered", "media.copied", "media.changed"} <= {key for _, key, _ in seen}
