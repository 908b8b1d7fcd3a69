"""An integration's broker account (`shared.integrations`) receives the
routing keys it asked for in a durable queue of its own, and may do nothing
else: publish, declare or bind a queue, read another queue, call by RPC or
log in to the management API. Real RabbitMQ, on a vhost set up as `make
db` leaves one (guest holds no permission there)."""
import subprocess
import sys
import uuid
from urllib.parse import quote, urlsplit

import pytest
import requests
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue

from contracts.events.messages import EventCreated, SponsorDeleted
from contracts.media.messages import MediaChanged
from contracts.roles.messages import InviteAccepted, InviteCreated
from shared import integrations
from shared.amqp import with_login
from shared.broker import Management
from tests.conftest import ROOT
from tests.integration.test_broker_identity import publishing, reading, refusal
from tests.support.broker import publish_event
from tests.support.tap import wait_until

# broker users are global, not per vhost: names of this run's own
CRM, ERP = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("crm", "erp"))
QUEUE = f"integration.{CRM}"
ASKED = ["event.*", "invite.accepted"]


@pytest.fixture
def vhost(service_config):
    api = Management()
    try:
        api.delete(f"permissions/{quote(service_config['vhost'], safe='')}/guest")
    finally:
        api.close()
    yield service_config["vhost"]
    for name in (CRM, ERP):
        integrations.remove(name, service_config["vhost"])


@pytest.fixture
def crm(vhost, service_config):
    """The crm integration's login: the test's vhost, its user and password."""
    password = integrations.add(CRM, ASKED, vhost)
    return with_login(service_config["AMQP_URI"], QUEUE, password)


def publish(amqp_uri, message):
    publish_event(amqp_uri, message.to_payload(), message.message_id, source=message.source,
                  event_type=message.event_type)


def drained(uri, queue=QUEUE):
    """Every message waiting in the queue, read and acknowledged as the
    login of `uri`: `[(routing key, payload)]`."""
    found = []
    with Connection(uri) as connection:
        bound = Queue(queue, no_declare=True)(connection.default_channel)
        while (message := bound.get()) is not None:
            found.append((message.delivery_info["routing_key"], message.payload))
            message.ack()
    return found


def test_the_account_receives_the_routing_keys_it_asked_for_and_no_other(
        crm, service_config):
    created = EventCreated(event_id=1, identifier="fossasia", owner_id=2)
    accepted = InviteAccepted(invite_id=3, event_id=1, user_id=4, email="a@example.org",
                              role="coorganizer")
    unasked = [SponsorDeleted(sponsor_id=5, event_id=1),
               MediaChanged(event_id=1, media_version=1, event_urls={}, sponsor_urls={})]
    for message in [unasked[0], created, unasked[1], accepted]:
        publish(service_config["AMQP_URI"], message)  # each confirmed: routed once it returns

    assert drained(crm) == [("event.created", created.to_payload()),
                            ("invite.accepted", accepted.to_payload())]


def test_the_queue_keeps_what_arrives_while_the_integration_is_away(crm, service_config):
    created = EventCreated(event_id=1, identifier="fossasia", owner_id=2)
    publish(service_config["AMQP_URI"], created)
    with Connection(crm) as connection:  # durable, not exclusive: a reconnect finds it
        declared = connection.channel().queue_declare(QUEUE, passive=True)

    assert declared.message_count == 1
    assert drained(crm) == [("event.created", created.to_payload())]


def test_the_account_cannot_publish_anywhere(crm):
    message = InviteCreated(invite_id=1, event_id=1, event_name="x", email="a@example.org",
                            role="owner", expires_at="2030-01-01T00:00:00Z").to_payload()
    for exchange, routing_key in [("roles.events", "invite.created"),
                                  ("events.events", "event.created"),
                                  ("", QUEUE),  # the default exchange, to its own queue
                                  ("nameko-rpc", "roles.sign_up")]:  # RPC
        error = refusal(crm, publishing(exchange, routing_key, message, user_id=QUEUE))
        assert isinstance(error, AccessRefused), (exchange, error)


def test_the_account_cannot_declare_or_bind_a_queue_nor_read_another(crm, vhost):
    integrations.add(ERP, ["media.changed"], vhost)
    rpc = Exchange("nameko-rpc", type="topic", no_declare=True)
    attempts = {
        "declare a queue": lambda connection: connection.default_channel.queue_declare(
            "mine", durable=True),
        "declare a server-named queue (an RPC reply queue)": lambda connection:
            connection.default_channel.queue_declare("", exclusive=True),
        "bind its queue to more": lambda connection: connection.default_channel.queue_bind(
            QUEUE, "roles.events", "#"),
        "bind a queue to nameko-rpc": lambda connection: Queue(
            "rpc-spy", exchange=rpc, routing_key="#")(
            connection.default_channel).declare(),
        "read another integration's queue": reading(f"integration.{ERP}"),
    }
    for attempt, action in attempts.items():
        error = refusal(crm, action)
        assert isinstance(error, AccessRefused), (attempt, error)


def test_the_account_cannot_use_the_management_api(crm):
    answer = requests.get(Management().base + "overview", auth=(QUEUE, urlsplit(crm).password),
                          timeout=10)

    assert answer.status_code == 401


def test_adding_again_changes_the_bindings_and_the_password(crm, vhost, service_config):
    password = integrations.add(CRM, ["media.changed"], vhost)
    created = EventCreated(event_id=1, identifier="fossasia", owner_id=2)
    changed = MediaChanged(event_id=1, media_version=1, event_urls={}, sponsor_urls={})
    for message in (created, changed):
        publish(service_config["AMQP_URI"], message)

    assert isinstance(refusal(crm, lambda connection: None), AccessRefused)  # the old password
    assert drained(with_login(service_config["AMQP_URI"], QUEUE, password)) == [
        ("media.changed", changed.to_payload())]


def test_removing_deletes_the_account_and_its_queue(crm, vhost):
    integrations.remove(CRM, vhost)

    assert isinstance(refusal(crm, lambda connection: None), AccessRefused)
    api = Management()
    try:
        assert api.get(f"queues/{quote(vhost, safe='')}/{QUEUE}") is None
    finally:
        api.close()


def test_a_pattern_that_matches_no_message_type_is_refused(vhost):
    with pytest.raises(integrations.UnknownPattern):
        integrations.add(CRM, ["event.*", "evnet.created"], vhost)


def test_the_admin_command_prints_the_password_once_and_it_logs_in(vhost, service_config):
    made = subprocess.run([sys.executable, "-m", "shared.integrations", "add", CRM, "event.*",
                           "--vhost", vhost], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    password = made.stdout.rsplit(": ", 1)[1].strip()
    assert "event.* on events.events" in made.stdout
    assert drained(with_login(service_config["AMQP_URI"], QUEUE, password)) == []

    removed = subprocess.run([sys.executable, "-m", "shared.integrations", "remove", CRM,
                              "--vhost", vhost], capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0, removed.stderr
    assert isinstance(refusal(with_login(service_config["AMQP_URI"], QUEUE, password),
                              lambda connection: None), AccessRefused)
    refused = subprocess.run([sys.executable, "-m", "shared.integrations", "add", CRM,
                              "nothing.*", "--vhost", vhost], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1 and "matches no message type" in refused.stderr


def test_the_consumer_of_the_docs_handles_each_message_once(crm, service_config, tmp_path):
    page = (ROOT / "docs" / "integrations.md").read_text().split("## AMQP account")[1]
    code = page.split("```python\n")[1].split("```")[0]
    assert '"integration.crm"' in code
    (tmp_path / "consumer.py").write_text(code.replace('"integration.crm"', f'"{QUEUE}"'))
    created = EventCreated(event_id=1, identifier="fossasia", owner_id=2)
    accepted = InviteAccepted(invite_id=3, event_id=1, user_id=4, email="a@example.org",
                              role="coorganizer")
    for message in (created, created, accepted):  # the first one twice: at least once
        publish(service_config["AMQP_URI"], message)
    output = tmp_path / "output"
    with output.open("w") as out:
        consumer = subprocess.Popen([sys.executable, "consumer.py"], cwd=tmp_path, stdout=out,
                                    stderr=subprocess.STDOUT, env={"AMQP_URL": crm})
    try:
        lines = wait_until(lambda: "invite.accepted" in output.read_text()
                           and output.read_text().splitlines(), timeout=20)
    finally:
        consumer.kill()
        consumer.wait()

    assert lines == [f"event.created {created.message_id}",
                     f"invite.accepted {accepted.message_id}"]
