"""Nothing inside is trusted blindly, on the broker: each service logs in
as its own user with the least permissions it needs (`shared.broker`), the
sender of every message is the one RabbitMQ checked (`user_id`), and a
method answers only the services it names (`@rpc(callers=...)`).

Rogue clients try what an intruder with the broker's default credentials,
or with one service's credentials, would: each attempt is refused, by the
broker or by the service, and changes nothing. Real RabbitMQ (a vhost set
up as `make db` sets one up) and PostgreSQL, real services."""
import uuid
from urllib.parse import quote

import pytest
from amqp.exceptions import AccessRefused, NotAllowed, PreconditionFailed
from kombu import Connection, Exchange, Queue
from nameko.rpc import ServiceProxy

from contracts.roles.messages import InviteAccepted
from shared import deadletters
from shared.amqp import with_login
from shared.broker import Management
from shared.errors import CallerNotAllowed
from shared.handlers import SENDER_HEADER
from tests.support.broker import CallerProxy, service_uri, widen_rpc
from tests.support.tap import wait_until

INVITE_ACCEPTED_QUEUE = "evt-roles-invite.accepted--roles.on_invite_accepted"


def as_user(amqp_uri, user):
    """The vhost of `amqp_uri`, logged in as `user`: a service's user (the
    development password the tests' services use), or guest."""
    return with_login(amqp_uri, "guest", "guest") if user == "guest" else service_uri(
        amqp_uri, user)


def refusal(uri, attempt):
    """What the broker answers `attempt(connection)` on a connection to
    `uri` (publishes wait for the broker's confirm): its error."""
    with pytest.raises((AccessRefused, NotAllowed, PreconditionFailed)) as refused:
        with Connection(uri, transport_options={"confirm_publish": True}) as connection:
            connection.connect()
            attempt(connection)
    return refused.value


def publishing(exchange, routing_key, payload=None, **properties):
    def publish(connection):
        connection.Producer().publish(
            payload or {}, exchange=Exchange(exchange, type="topic", no_declare=True),
            routing_key=routing_key, serializer="json", **properties)
    return publish


def binding_to_rpc(queue, routing_key):
    def bind(connection):
        Queue(queue, exchange=Exchange("nameko-rpc", type="topic", no_declare=True),
              routing_key=routing_key, durable=True)(connection.default_channel).declare()
    return bind


def reading(queue):
    def read(connection):
        connection.default_channel.basic_get(queue)
    return read


def forged_acceptance(intruder, event, role="owner"):
    return InviteAccepted(invite_id=1, event_id=event["id"], user_id=intruder["id"],
                          email=intruder["email"], role=role)


def on_team(roles, user, event):
    return roles.has_access(user["id"], "is_team_member", event["id"])


def rpc_bindings(vhost):
    """`{(queue, routing key)}` bound to `nameko-rpc` on the vhost."""
    api = Management()
    try:
        found = api.get(f"exchanges/{quote(vhost, safe='')}/nameko-rpc/bindings/source")
    finally:
        api.close()
    return {(binding["destination"], binding["routing_key"]) for binding in found}


@pytest.fixture
def intruder(sign_up):
    return sign_up("intruder")


@pytest.fixture
def amqp_uri(service_config):
    """The test's vhost, no login in it: `as_user` adds one."""
    return service_config["AMQP_URI"]


@pytest.fixture
def without_guest(rabbit_config, roles, events_beside_roles):
    """The vhost as `make db` leaves it: guest holds no permission there."""
    api = Management()
    try:
        api.delete(f"permissions/{quote(rabbit_config['vhost'], safe='')}/guest")
    finally:
        api.close()


def test_guest_cannot_even_open_the_systems_vhost(without_guest, amqp_uri):
    error = refusal(as_user(amqp_uri, "guest"), lambda connection: None)

    assert "access to vhost" in str(error)


def test_a_service_cannot_publish_on_another_services_exchange(
        without_guest, amqp_uri, roles, event, intruder):
    forged = forged_acceptance(intruder, event)

    for exchange, routing_key in [("roles.events", "invite.accepted"),
                                  ("events.events", "event.created")]:
        error = refusal(as_user(amqp_uri, "media"), publishing(
            exchange, routing_key, forged.to_payload(), user_id="media"))
        assert isinstance(error, AccessRefused)
        assert f"exchange '{exchange}'" in str(error)
    # nor under a type it does not publish, on its own exchange
    error = refusal(as_user(amqp_uri, "media"), publishing(
        "media.events", "invite.accepted", forged.to_payload(), user_id="media"))
    assert "topic 'invite.accepted'" in str(error)
    assert not on_team(roles, intruder, event)


def test_the_broker_refuses_a_user_id_that_is_not_the_login(without_guest, amqp_uri):
    error = refusal(as_user(amqp_uri, "media"),
                    publishing("media.events", "media.changed", user_id="roles"))

    assert isinstance(error, PreconditionFailed)
    assert "user_id property set to 'roles'" in str(error)


def test_invite_accepted_from_anyone_but_roles_is_dead_lettered_with_the_reason(
        roles, event, intruder, amqp_uri, rabbit_config):
    """Were the broker to let another client publish on the roles service's
    exchange (here guest, whose permissions a test's vhost keeps), the
    roles service still believes only its own messages."""
    guest = rabbit_config["AMQP_URI"]
    unsigned, signed_by_guest, claiming_a_copy = (forged_acceptance(intruder, event)
                                                  for _ in range(3))
    with Connection(guest, transport_options={"confirm_publish": True}) as connection:
        publish = connection.Producer().publish
        exchange = Exchange("roles.events", type="topic", no_declare=True)
        for message, properties in [
                (unsigned, {}),
                (signed_by_guest, {"user_id": "guest"}),
                (claiming_a_copy, {"user_id": "guest", "headers": {SENDER_HEADER: "roles"}})]:
            publish(message.to_payload(), exchange=exchange, routing_key="invite.accepted",
                    serializer="json", message_id=str(message.message_id), **properties)

    login = as_user(amqp_uri, "roles")
    letters = wait_until(lambda: len(found := deadletters.list_dead_letters(login, "roles")) == 3
                         and {letter.message_id: letter for letter in found})
    reasons = {message: letters[str(message.message_id)].error
               for message in (unsigned, signed_by_guest, claiming_a_copy)}
    assert reasons[unsigned] == ("shared.handlers.WrongSender: invite.accepted from a sender"
                                 " without a user_id: only roles publishes it")
    assert reasons[signed_by_guest] == ("shared.handlers.WrongSender: invite.accepted from"
                                        " guest: only roles publishes it")
    assert reasons[claiming_a_copy] == reasons[signed_by_guest]
    assert {letter.queue for letter in letters.values()} == {INVITE_ACCEPTED_QUEUE}
    assert not on_team(roles, intruder, event)


def test_a_replayed_dead_letter_keeps_its_sender_and_is_refused_again(
        roles, event, intruder, amqp_uri, rabbit_config):
    message = forged_acceptance(intruder, event)
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        connection.Producer().publish(
            message.to_payload(), exchange=Exchange("roles.events", type="topic",
                                                     no_declare=True),
            routing_key="invite.accepted", serializer="json", user_id="guest",
            message_id=str(message.message_id))
    login = as_user(amqp_uri, "roles")
    wait_until(lambda: deadletters.list_dead_letters(login, "roles"))

    assert deadletters.replay(login, "roles", str(message.message_id)) is True

    [letter] = wait_until(lambda: deadletters.list_dead_letters(login, "roles"))
    assert "from guest" in letter.error
    assert not on_team(roles, intruder, event)


def test_a_service_cannot_call_a_method_it_does_not_call(
        without_guest, amqp_uri, roles, owner):
    for who, routing_key in [("media", "roles.sign_in"), ("media", "roles.set_admin"),
                             ("media", "roles.sign_up"), ("events", "roles.create_invite"),
                             ("gateway", "events.apply_media_urls"),
                             ("roles", "roles.has_access")]:
        error = refusal(as_user(amqp_uri, who), publishing(
            "nameko-rpc", routing_key, {"args": [owner["id"], True], "kwargs": {}},
            user_id=who, reply_to=f"reply.{who}.{uuid.uuid4()}",
            correlation_id=str(uuid.uuid4())))
        assert isinstance(error, AccessRefused), (who, routing_key)
        assert f"topic '{routing_key}'" in str(error)
    assert not roles.has_access(owner["id"], "is_admin", None)


def test_a_method_answers_only_the_services_it_names(
        without_guest, rabbit_config, service_config, roles, events_beside_roles, event, owner):
    """Even a service the broker let publish the request (widened here) is
    refused by the method: `sign_in` answers the gateway only, `invite_mail`
    the notifications service only, `apply_media_urls` the media service
    only."""
    for user in ("events", "gateway"):
        widen_rpc(rabbit_config["vhost"], user)

    with CallerProxy("roles", service_config, caller="events", timeout=10) as roles_rpc:
        with pytest.raises(CallerNotAllowed, match="answers gateway only, not events"):
            roles_rpc.sign_in(owner["email"], "correct horse", 60)
    with CallerProxy("roles", service_config, caller="gateway", timeout=10) as roles_rpc:
        with pytest.raises(CallerNotAllowed, match="answers notifications only, not gateway"):
            roles_rpc.invite_mail(1)  # a link's token is for the mailer alone
    with CallerProxy("events", service_config, caller="gateway", timeout=10) as events_rpc:
        with pytest.raises(CallerNotAllowed, match="answers media only, not gateway"):
            events_rpc.apply_media_urls(event["id"], 99, {"logo_url": "https://evil.test/x.png"},
                                        {})
    unsigned = CallerProxy("events", service_config, caller="gateway", timeout=10)
    unsigned._proxy = ServiceProxy(unsigned._worker_ctx, "events", unsigned._reply_listener)
    with unsigned as events_rpc, pytest.raises(CallerNotAllowed, match="without a user_id"):
        events_rpc.apply_media_urls(event["id"], 99, {"logo_url": "https://evil.test/x.png"}, {})

    assert events_beside_roles.get_event(event["id"])["logo_url"] is None
    with CallerProxy("roles", service_config, caller="gateway", timeout=10) as roles_rpc:
        assert roles_rpc.sign_in(owner["email"], "correct horse", 60)["user"]["id"] == owner["id"]


def test_no_one_can_bind_a_queue_that_reads_another_services_requests_or_answers(
        without_guest, rabbit_config, amqp_uri, roles, owner):
    bound = rpc_bindings(rabbit_config["vhost"])
    attempts = [("media", "rpc-media", "roles.sign_in"), ("media", "rpc-media", "roles.*"),
                ("media", "rpc-media", "#"), ("media", "rpc-media", "*.sign_in"),
                ("gateway", f"rpc.reply-gateway-{uuid.uuid4()}", "roles.sign_in"),
                ("roles", f"rpc.reply-roles-{uuid.uuid4()}", f"reply.gateway.{uuid.uuid4()}"),
                ("events", f"rpc.reply-events-{uuid.uuid4()}", str(uuid.uuid4()))]
    for who, queue, routing_key in attempts:
        error = refusal(as_user(amqp_uri, who), binding_to_rpc(queue, routing_key))
        assert isinstance(error, AccessRefused), (who, routing_key)
        assert f"topic '{routing_key}'" in str(error)
    for who in ("media", "gateway", "events"):  # nor read the roles service's queue
        error = refusal(as_user(amqp_uri, who), reading("rpc-roles"))
        assert "queue 'rpc-roles'" in str(error)
    # nor name a queue of another's, to bind it where it may (a queue of its
    # own it may declare: it stays bound to nothing)
    error = refusal(as_user(amqp_uri, "media"), binding_to_rpc("rpc-roles", "media.*"))
    assert "queue 'rpc-roles'" in str(error)

    assert rpc_bindings(rabbit_config["vhost"]) == bound
    assert {key for _, key in bound if not key.startswith("reply.")} == {"roles.*", "events.*"}
    with CallerProxy("roles", rabbit_config, caller="gateway", timeout=10) as roles_rpc:
        assert roles_rpc.sign_in(owner["email"], "correct horse", 60)["user"]["id"] == owner["id"]
