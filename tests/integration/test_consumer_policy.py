"""`@consume`: bounded retries with backoff, then a dead-letter queue that an
operator lists and replays; against the real RabbitMQ.

Test messages are published as the outbox relay publishes them: on the
`events.events` exchange with the AMQP `message_id` property set, which is
how `shared.deadletters` finds a dead letter.
"""
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from eventlet.queue import Empty, Queue

from contracts.events.messages import EventCreated
from shared import deadletters
from shared.errors import Outage
from shared.handlers import consume
from tests.support.broker import created, publish_event, queue_depth
from tests.support.tap import wait_until

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "policy"
HANDLER_QUEUE = f"evt-events-event.created--{SERVICE}.on_event_created"
RETRY_QUEUES = [f"{HANDLER_QUEUE}.retry.1", f"{HANDLER_QUEUE}.retry.2"]
ATTEMPTS = 3  # the first try and one per delay of service_config's [0.05, 0.1]


class Journal:
    """What the handler was given and did; the handler fills it, the test
    reads it and decides which event ids fail."""

    def __init__(self):
        self.attempts = Counter()  # event id -> calls of the handler
        self.handled = []  # event ids handled successfully, in order
        self.done = Queue()  # each successfully handled message, as it happens
        self.failures_before_success = Counter()  # event id -> calls that fail first
        self.broken = set()  # event ids whose handling fails until removed
        self.outages = Counter()  # event id -> calls that meet an outage first

    def next_handled(self, timeout=5.0):
        try:
            return self.done.get(timeout=timeout)
        except Empty:
            raise AssertionError(f"no message handled within {timeout}s") from None


class PolicyService:
    name = SERVICE
    journal = None  # a fresh Journal per test (fixture `journal`)

    @consume(EventCreated)
    def on_event_created(self, message):
        journal = self.journal
        journal.attempts[message.event_id] += 1
        if journal.attempts[message.event_id] <= journal.outages[message.event_id]:
            raise Outage("the database is unavailable")
        if message.event_id in journal.broken:
            raise RuntimeError(f"event {message.event_id} cannot be handled")
        if journal.attempts[message.event_id] <= journal.failures_before_success[message.event_id]:
            raise RuntimeError(f"event {message.event_id}: transient failure")
        journal.handled.append(message.event_id)
        journal.done.put(message)


@pytest.fixture
def journal(monkeypatch):
    journal = Journal()
    monkeypatch.setattr(PolicyService, "journal", journal)
    return journal


@pytest.fixture
def policy(container_factory, service_config, journal):
    container = container_factory(PolicyService, service_config)
    container.start()
    return container


def dead_letters(amqp_uri):
    return deadletters.list_dead_letters(amqp_uri, SERVICE)


def wait_for_dead_letters(amqp_uri, count=1):
    return wait_until(lambda: len(letters := dead_letters(amqp_uri)) == count and letters,
                      interval=0.05)


def still_queued(amqp_uri):
    """Messages waiting anywhere on their way back to the handler (the retry
    queues, then the handler's queue, in the order a message moves through
    them, so one in transit is seen in one or the other); None for a queue
    never declared."""
    return {name: queue_depth(amqp_uri, name) for name in [*RETRY_QUEUES, HANDLER_QUEUE]}


def test_a_handler_that_fails_once_is_retried_and_handles_the_message_once(
        policy, journal, amqp_uri):
    journal.failures_before_success[1] = 1
    message = created(amqp_uri, 1)

    handled = journal.next_handled()
    assert handled == message
    assert journal.attempts[1] == 2

    policy.stop()  # acks are out; anything unacked would be back in its queue
    assert journal.handled == [1]
    assert still_queued(amqp_uri) == {RETRY_QUEUES[0]: 0, RETRY_QUEUES[1]: None, HANDLER_QUEUE: 0}
    assert dead_letters(amqp_uri) == []


def test_an_outage_is_waited_out_however_long_it_lasts_and_uses_no_attempt(
        policy, journal, amqp_uri):
    journal.outages[1] = ATTEMPTS + 2  # longer than the retries would allow
    journal.failures_before_success[1] = ATTEMPTS + 3  # then one real failure
    message = created(amqp_uri, 1)

    assert journal.next_handled(timeout=10) == message
    assert journal.attempts[1] == ATTEMPTS + 4
    assert dead_letters(amqp_uri) == []


def test_a_handler_that_always_fails_is_tried_once_per_delay_more_then_dead_lettered(
        policy, journal, amqp_uri):
    journal.broken.add(1)
    message = created(amqp_uri, 1)

    [letter] = wait_for_dead_letters(amqp_uri)
    assert journal.attempts[1] == ATTEMPTS
    assert letter.message_id == str(message.message_id)
    assert letter.queue == HANDLER_QUEUE
    assert letter.error == "RuntimeError: event 1 cannot be handled"
    assert letter.body == message.to_payload()
    assert datetime.fromisoformat(letter.dead_lettered_at).tzinfo is not None

    policy.stop()  # nothing of it is left to deliver: it is only in the dead-letter queue
    assert still_queued(amqp_uri) == dict.fromkeys([*RETRY_QUEUES, HANDLER_QUEUE], 0)
    assert journal.attempts[1] == ATTEMPTS
    assert journal.handled == []
    assert [letter.message_id for letter in dead_letters(amqp_uri)] == [str(message.message_id)]


def test_a_failing_message_waiting_for_its_retry_does_not_hold_up_the_others(
        container_factory, service_config, journal, amqp_uri):
    # one worker taking one message at a time: a failing message requeued in
    # place would come back ahead of everything behind it, again and again
    config = {**service_config, "max_workers": 1, "HANDLER_RETRY_DELAYS": [60, 60]}
    container_factory(PolicyService, config).start()
    journal.broken.add(1)
    created(amqp_uri, 1)
    for event_id in range(2, 12):
        created(amqp_uri, event_id)

    handled = [journal.next_handled().event_id for _ in range(10)]
    assert sorted(handled) == list(range(2, 12))
    assert journal.attempts[1] == 1
    assert queue_depth(amqp_uri, RETRY_QUEUES[0]) == 1  # it waits for its retry
    assert dead_letters(amqp_uri) == []


def test_a_malformed_message_is_dead_lettered_at_once_without_calling_the_handler(
        policy, journal, amqp_uri):
    payload = EventCreated(event_id=1, identifier="abcdef12", owner_id=7).to_payload()
    del payload["owner_id"]
    publish_event(amqp_uri, payload, payload["message_id"])

    [letter] = wait_for_dead_letters(amqp_uri)
    assert letter.message_id == payload["message_id"]
    assert letter.queue == HANDLER_QUEUE
    assert letter.error.startswith("shared.messages.InvalidMessage: malformed event.created")
    assert "owner_id" in letter.error
    assert letter.body == payload

    created(amqp_uri, 2)  # the handler is alive, and the malformed one never reached it
    assert journal.next_handled().event_id == 2
    assert journal.attempts == Counter({2: 1})
    assert queue_depth(amqp_uri, RETRY_QUEUES[0]) is None  # it was never retried


def test_a_dead_letter_replayed_once_the_cause_is_fixed_is_handled(policy, journal, amqp_uri):
    journal.broken.add(1)
    message = created(amqp_uri, 1)
    wait_for_dead_letters(amqp_uri)

    journal.broken.discard(1)  # the operator fixes the cause
    assert deadletters.replay(amqp_uri, SERVICE, str(message.message_id)) is True

    assert journal.next_handled() == message
    assert journal.attempts[1] == ATTEMPTS + 1
    assert dead_letters(amqp_uri) == []
    assert deadletters.replay(amqp_uri, SERVICE, str(message.message_id)) is False


def test_a_dead_letter_replayed_too_early_gets_every_retry_again_and_comes_back(
        policy, journal, amqp_uri):
    journal.broken.update({1, 2})
    message = created(amqp_uri, 1)
    other = created(amqp_uri, 2)
    wait_for_dead_letters(amqp_uri, count=2)

    assert deadletters.replay(amqp_uri, SERVICE, str(message.message_id)) is True
    wait_until(lambda: journal.attempts[1] == 2 * ATTEMPTS)

    letters = wait_for_dead_letters(amqp_uri, count=2)
    assert sorted(letter.message_id for letter in letters) == sorted(
        [str(message.message_id), str(other.message_id)])
    assert all(letter.queue == HANDLER_QUEUE for letter in letters)
    assert journal.attempts == Counter({1: 2 * ATTEMPTS, 2: ATTEMPTS})


def test_the_operator_command_lists_and_replays_dead_letters(policy, journal, amqp_uri, capsys):
    journal.broken.add(1)
    message = created(amqp_uri, 1)
    wait_for_dead_letters(amqp_uri)
    message_id = str(message.message_id)
    capsys.readouterr()

    assert deadletters.main(["--amqp-uri", amqp_uri, "list", SERVICE]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0] == f"{SERVICE}: 1 dead letter(s)"
    assert listing[1].split()[:3] == [message_id, "from", HANDLER_QUEUE]
    assert listing[2].strip() == "RuntimeError: event 1 cannot be handled"
    assert len(dead_letters(amqp_uri)) == 1  # listing leaves it where it was

    journal.broken.discard(1)
    assert deadletters.main(["--amqp-uri", amqp_uri, "replay", SERVICE, message_id]) == 0
    assert capsys.readouterr().out == f"replayed {message_id}\n"
    assert journal.next_handled() == message

    assert deadletters.main(["--amqp-uri", amqp_uri, "replay", SERVICE, message_id]) == 1
    assert capsys.readouterr().out == f"no dead letter {message_id} in {SERVICE}\n"


def test_the_operator_command_runs_as_a_module(policy, journal, amqp_uri):
    journal.broken.add(1)
    message = created(amqp_uri, 1)
    wait_for_dead_letters(amqp_uri)

    run = subprocess.run(
        [sys.executable, "-m", "shared.deadletters", "--amqp-uri", amqp_uri, "list", SERVICE],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{SERVICE}: 1 dead letter(s)\n  {message.message_id}  from ")
