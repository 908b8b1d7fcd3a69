"""The webhooks service records the messages its endpoints ask for in
batches (`@consume_batches`), against the real RabbitMQ and PostgreSQL:
messages that waited together are recorded several to a transaction, each
once, in the order delivered, and go out to each endpoint in that order; a
message that cannot be recorded is retried and dead-lettered alone.

Each test publishes its messages as the roles service's relay would, while
the handler's queue has no consumer (a first container declared it), then
starts the service: the messages wait together, so they arrive in batches
(`MESSAGE_BATCH_SIZE` 4 here)."""
import logging
import re
from collections import Counter
from uuid import UUID

import pytest
from sqlalchemy import func, select

from contracts.roles.messages import InviteCreated
from services.webhooks.models import Delivery, Webhook
from services.webhooks.service import WebhooksService
from shared import deadletters
from shared.handlers import ATTEMPT_HEADER
from tests.support.broker import peek, queue_depth, send_message
from tests.support.receiver import Receiver
from tests.support.services import starter
from tests.support.tap import wait_until

HANDLER_QUEUE = "evt-roles-invite.created--webhooks.on_invite_created"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def start(container_factory, webhooks_config):
    """`start()` → the service, its queues declared by a first container
    that stopped, so that what the test publishes before waits."""
    config = {**webhooks_config, "MESSAGE_BATCH_SIZE": 4, "MESSAGE_PREFETCH": 8}
    return starter(container_factory, WebhooksService, config)


@pytest.fixture
def hook(webhooks_session, receiver):
    """`hook(event_id, path, types)` → a webhook of the event posting `types`
    to the receiver's `path`."""
    def hook(event_id, path, types=("invite.created",)):
        webhook = Webhook(event_id=event_id, url=f"{receiver.url}{path}", events=list(types),
                          secret="whsec_" + "A" * 32)
        webhooks_session.add(webhook)
        webhooks_session.commit()
        return webhook.id
    return hook


def send(amqp_uri, event_id, message=None, name="Summit"):
    message = message or InviteCreated(invite_id=event_id, event_id=event_id, event_name=name,
                                       email="ana@example.org", role="organizer",
                                       expires_at="2030-03-14T09:00:00+00:00")
    return send_message(amqp_uri, message)


def recorded(session):
    """(webhook id, message id) of each delivery, in the order they go out."""
    session.expire_all()
    return session.execute(select(Delivery.webhook_id, Delivery.message_id)
                           .order_by(Delivery.id)).all()


def handled(caplog):
    """How many deliveries of each message the service has handled (acked):
    the ids its handlers' `handled` log lines name (a batch's line, all of
    its messages)."""
    return Counter(UUID(found) for record in caplog.records
                   if record.name.startswith("shared.") and " handled " in record.getMessage()
                   for found in UUID_TEXT.findall(record.getMessage()))


def per_transaction(session):
    """How many deliveries each transaction recorded (their `created_at`
    is its start)."""
    return session.scalars(select(func.count()).select_from(Delivery)
                           .group_by(Delivery.created_at)).all()


def test_a_burst_is_recorded_in_batches_each_message_once_in_order(
        start, hook, webhooks_session, receiver, amqp_uri, caplog):
    caplog.set_level(logging.INFO, logger="shared")
    first, second = hook(1, "/first"), hook(2, "/second")
    hook(1, "/other", types=["role.changed"])  # asked for something else
    messages = [send(amqp_uri, 1 + index % 2) for index in range(10)]
    for message in messages[:3]:
        send(amqp_uri, message.event_id, message)  # delivered again, in the same batch or not

    consumer = start()
    wait_until(lambda: len(recorded(webhooks_session)) == len(messages), timeout=10)
    for message in messages[3:6]:  # and once more, after their batches committed
        send(amqp_uri, message.event_id, message)
    wait_until(lambda: sum(handled(caplog).values()) == len(messages) + 6, timeout=10)
    arrived = wait_until(lambda: len(receiver.at("/first")) == len(receiver.at("/second")) == 5
                         and receiver.at("/first") + receiver.at("/second"), timeout=15)

    consumer.stop()
    assert handled(caplog) == Counter({m.message_id: 1 + (m in messages[:6]) for m in messages})
    by_event = {1: first, 2: second}
    assert recorded(webhooks_session) == [(by_event[m.event_id], m.message_id) for m in messages]
    assert 1 < max(per_transaction(webhooks_session)) <= 4  # MESSAGE_BATCH_SIZE
    # each endpoint gets its messages in the order they were delivered
    assert [UUID(item.headers["webhook-id"]) for item in arrived] == [
        m.message_id for m in messages if m.event_id == 1] + [
        m.message_id for m in messages if m.event_id == 2]
    assert receiver.at("/other") == []
    assert queue_depth(amqp_uri, HANDLER_QUEUE) == 0
    assert deadletters.list_dead_letters(amqp_uri, "webhooks") == []


def test_a_message_that_cannot_be_recorded_is_dead_lettered_alone(
        start, hook, webhooks_session, amqp_uri):
    webhook = hook(1, "/hooked")
    messages = [send(amqp_uri, 1) for _ in range(2)]
    # PostgreSQL keeps no NUL in a text: the delivery's data cannot be written
    poison = send(amqp_uri, 1, name="Sum\x00mit")
    messages += [send(amqp_uri, 1) for _ in range(6)]

    consumer = start()
    letters = wait_until(lambda: deadletters.list_dead_letters(amqp_uri, "webhooks"),
                         timeout=15, interval=0.1)
    wait_until(lambda: len(recorded(webhooks_session)) == len(messages), timeout=10)

    consumer.stop()
    [letter] = letters
    assert (letter.message_id, letter.queue) == (str(poison.message_id), HANDLER_QUEUE)
    assert "DataError" in letter.error and "\\u0000" in letter.error
    assert letter.body == poison.to_payload()
    assert [m.headers[ATTEMPT_HEADER] for m in peek(amqp_uri, "webhooks.dead-letters")] == [2]
    assert recorded(webhooks_session) == [(webhook, m.message_id) for m in messages]
    assert max(per_transaction(webhooks_session)) > 1  # the batches after it
    assert [queue_depth(amqp_uri, name) for name in (
        HANDLER_QUEUE, f"{HANDLER_QUEUE}.retry.1", f"{HANDLER_QUEUE}.retry.2")] == [0, 0, 0]
