"""Scenario 5, poison messages: a message no handler can ever take goes,
after the bounded retries, to the dead-letter queue of each service that
consumes it, while every other message keeps flowing; the operator lists
the dead letters, fixes the cause and replays one, and its effect happens.

Poison, published on the events and roles exchanges as the relays would:

- malformed `event.copied` messages (a field missing; version 2): both of
  its consumers (roles, media) dead-letter them at once, without retries;
- `event.copied` messages whose source event the roles service never
  heard of, more of them than a service has workers: the roles handler
  raises RetryLater on each delivery (the media handler copies nothing and
  succeeds);
- an `invite.accepted` naming a user who never signed up.

Meanwhile an ordinary copy is made over HTTP and must complete, team and
media, before the first of those poison messages has used up its retries.
Then `python -m shared.deadletters list` (a subprocess with the system's
AMQP_URI) shows every poison message where it should be; the missing source
event is announced and `replay` sends one copy back: the copy's team
appears, and the dead letter is gone. A replayed message whose cause is not
fixed comes back to the dead letters after its retries, not lost.
"""
import json
import re
import subprocess
import time
import uuid
from datetime import UTC, datetime

from shared.handlers import ATTEMPT_HEADER
from tests.reliability import flows
from tests.reliability.conftest import scaled
from tests.support.broker import peek, queue_depth
from tests.support.http import ok
from tests.support.system import ROOT

LISTED = re.compile(r"^  (\S+)  from (\S+)  at (\S+)\n    (.*)$", re.MULTILINE)
COUNTED = re.compile(r"^(\w+): (\d+) dead letter\(s\)$", re.MULTILINE)
ROLES_COPIED = "evt-events-event.copied--roles.on_event_copied"
MEDIA_COPIED = "evt-events-event.copied--media.on_event_copied"
WEBHOOKS_COPIED = "evt-events-event.copied--webhooks.on_event_copied"
COPY_CONSUMERS = {"roles": ROLES_COPIED, "media": MEDIA_COPIED, "webhooks": WEBHOOKS_COPIED}
ROLES_ACCEPTED = "evt-roles-invite.accepted--roles.on_invite_accepted"


def deadletters(system, *args):
    """The operator command, as the operator runs it: its exit code and output."""
    done = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "shared.deadletters", *args],
                          cwd=ROOT, env=system.env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def listed(system):
    """`list`, parsed: {service: {message_id: (queue, at, error)}}."""
    code, output = deadletters(system, "list")
    assert code == 0, output
    letters = {service: {match[1]: (match[2], datetime.fromisoformat(match[3]), match[4])
                         for match in LISTED.finditer(block)}
               for service, block in _blocks(output)}
    for service, count in COUNTED.findall(output):
        assert len(letters[service]) == int(count), output
    return letters


def _blocks(output):
    """(service, its part of the output) for each service listed."""
    heads = list(COUNTED.finditer(output))
    for head, following in zip(heads, heads[1:] + [None], strict=True):
        yield head[1], output[head.end():following.start() if following else len(output)]


def test_poison_is_dead_lettered_while_others_flow_and_a_fixed_one_replays(system, report):
    unknown = scaled(12, 40)  # more than a service's workers
    row = {"scenario": "poison",
           "injected": f"2 malformed event.copied (x3 consumers), {unknown} event.copied of"
                       " unknown sources, 1 invite.accepted of an unknown user",
           # each poison message to each consumer's dead letters, the copy, the replay
           "requested": 2 * 3 + unknown + 1 + 1 + 1, "completed": 0, "lost": None,
           "duplicated": 0, "passed": False}
    started = time.monotonic()
    try:
        poison_and_replay(system, unknown, row)
    finally:
        row["seconds"] = round(time.monotonic() - started, 1)
        report(**row)


def poison_and_replay(system, unknown, row):
    """The scenario; what it saw goes into the report's `row`."""
    uri = flows.amqp_uri(system)
    marks, retried = flows.log_marks(system), len(flows.RETRIED_503)
    owner = flows.sign_up(system, "owner")
    event = flows.create_event(owner)
    ok(flows.put_image(owner, f"/v1/events/{event['id']}/images/original", flows.png("navy")))
    flows.await_value(lambda: flows.media_settled(system, event["id"]))

    # the poison
    base = 10**12 + uuid.uuid4().int % 10**9 * 1000
    copied = flows.message_payload(source_event_id=event["id"],
                                   source_identifier=event["identifier"], event_id=base,
                                   identifier="dead0001", actor_id=owner.id, sponsor_ids={})
    malformed = [
        flows.publish(uri, "events", "event.copied",
                      {key: value for key, value in copied.items() if key != "sponsor_ids"}),
        flows.publish(uri, "events", "event.copied",
                      {**copied, "message_id": str(uuid.uuid4()), "version": 2}),
    ]
    failing = [
        flows.new_message("events", "event.copied", flows.message_payload(
            source_event_id=base + 2 * n + 1, source_identifier=f"feed{n:04x}",
            event_id=base + 2 * n + 2, identifier=f"beef{n:04x}", actor_id=owner.id,
            sponsor_ids={}))
        for n in range(unknown)
    ] + [flows.new_message("roles", "invite.accepted", flows.message_payload(
        invite_id=base, event_id=event["id"], user_id=base + 999,
        email="nobody@example.org", role="coorganizer"))]
    poisoned_at = datetime.now(UTC)  # before the first message that fails
    flows.publish_all(uri, failing)
    failing = [message.message_id for message in failing]
    unknown_sources, unknown_user = failing[:-1], failing[-1]

    # meanwhile, an ordinary copy completes: its team, then its media
    the_copy = ok(flows.copy(owner, event["id"], name="Flowing"), 201)
    assert flows.team(system, the_copy["id"]) == [(owner.id, "owner")]
    flows.await_value(lambda: flows.media_settled(system, the_copy["id"])
                      and len(flows.live_keys(system, the_copy["id"])) == 4)
    copy_done_at = datetime.now(UTC)
    row["completed"] += 1

    # every poison message reaches the dead letters of each service consuming it
    roles_letters = len(malformed) + len(failing)
    dead_letters = {"roles": roles_letters, "media": len(malformed),
                    "webhooks": len(malformed)}
    flows.await_value(lambda: all(queue_depth(uri, f"{service}.dead-letters") == count
                                  for service, count in dead_letters.items()),
                      what=lambda: f"waiting: {flows.busy(system)}, expected {dead_letters}")
    flows.await_quiet(system, dead_letters=dead_letters)
    letters = listed(system)
    row["dead_lettered"] = sum(len(found) for found in letters.values())
    row["lost"] = len(malformed) * 3 + len(failing) - len(
        set(letters["roles"]) & set(malformed + failing)) - sum(
        len(set(letters[service]) & set(malformed)) for service in ("media", "webhooks"))

    assert set(letters["roles"]) == set(malformed + failing), letters
    assert set(letters["media"]) == set(letters["webhooks"]) == set(malformed), letters
    assert letters["events"] == {}, letters
    for message_id in malformed:
        for service, queue in COPY_CONSUMERS.items():
            assert letters[service][message_id][0] == queue
            assert "InvalidMessage" in letters[service][message_id][2]
    for message_id in unknown_sources:
        assert letters["roles"][message_id][0] == ROLES_COPIED
        assert "RetryLater" in letters["roles"][message_id][2]
    # an acceptance of no invite the roles service holds is a forged claim
    assert letters["roles"][unknown_user][0] == ROLES_ACCEPTED
    assert "ForgedMessage" in letters["roles"][unknown_user][2]
    # bounded retries with backoff: three retries, after their delays; none if
    # malformed or forged (retrying cannot make them true)
    delays = json.loads(system.env["HANDLER_RETRY_DELAYS"])
    dead_lettered_at = {message_id: letters["roles"][message_id][1]
                        for message_id in unknown_sources}
    for message_id in unknown_sources:
        assert (dead_lettered_at[message_id] - poisoned_at).total_seconds() >= sum(delays)
    tried = attempts(uri, "roles.dead-letters")
    assert {message_id: tried[message_id] for message_id in unknown_sources} \
        == dict.fromkeys(unknown_sources, len(delays))
    assert [tried[message_id] for message_id in (*malformed, unknown_user)] == [None] * 3
    row["completed"] += len(malformed) * 3 + len(failing)
    # the ordinary copy did not wait for them
    row["copy_done_after"] = round((copy_done_at - poisoned_at).total_seconds(), 2)
    row["first_dead_letter_after"] = round(
        (min(dead_lettered_at.values()) - poisoned_at).total_seconds(), 2)
    assert copy_done_at < min(dead_lettered_at.values()), row
    # listing took nothing away
    assert queue_depth(uri, "roles.dead-letters") == roles_letters

    # the operator fixes one cause (the source event is announced) and replays it
    fixed, fixed_copy = unknown_sources[0], base + 2
    flows.publish(uri, "events", "event.created", flows.message_payload(
        event_id=base + 1, identifier="feed0000", owner_id=owner.id))
    flows.await_value(lambda: flows.team(system, base + 1) == [(owner.id, "owner")])
    assert flows.team(system, fixed_copy) == []
    code, output = deadletters(system, "replay", "roles", fixed)
    assert code == 0 and f"replayed {fixed}" in output, output
    flows.await_value(lambda: flows.team(system, fixed_copy) == [(owner.id, "owner")])
    flows.await_handled(system, {("roles", "event.copied", fixed): 1})
    flows.await_quiet(system, dead_letters={**dead_letters, "roles": roles_letters - 1})
    after_replay = listed(system)
    assert set(after_replay["roles"]) == set(letters["roles"]) - {fixed}
    assert set(after_replay["media"]) == set(letters["media"])
    row["replayed"] = 1
    row["completed"] += 1

    # a replay whose cause is not fixed: refused again, and back, not lost
    code, output = deadletters(system, "replay", "roles", unknown_user)
    assert code == 0, output

    first_dead_lettered_at = letters["roles"][unknown_user][1]

    def dead_lettered_again():
        letter = listed(system)["roles"].get(unknown_user)
        return letter is not None and letter[1] > first_dead_lettered_at

    flows.await_value(dead_lettered_again)
    assert flows.team(system, event["id"]) == [(owner.id, "owner")]
    # an id that is not there
    code, output = deadletters(system, "replay", "roles", str(uuid.uuid4()))
    assert code == 1 and "no dead letter" in output, output

    outages = flows.unexplained_outages(system, marks) + flows.unexplained_503s(retried)
    row["outages"] = flows.tally(outages)
    assert not outages, outages
    row["passed"] = True


def attempts(uri, queue_name):
    """The `x-attempt` header of each message waiting in the queue, by
    message id; the messages stay."""
    return {message.properties.get("message_id"): message.headers.get(ATTEMPT_HEADER)
            for message in peek(uri, queue_name)}
