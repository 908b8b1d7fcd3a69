"""Talk to RabbitMQ from a test the way the system does: as one of its
services (its broker user, its `user_id`), to publish an event message as
the outbox relay would or to call a service as another service does; set
up a vhost's broker users; look at how many messages wait in a queue, and
at them."""
from urllib.parse import quote

from amqp.exceptions import NotFound
from kombu import Connection, Exchange, Queue
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import (
    ServiceRpcProxy,
    SingleThreadedReplyListener,
    StandaloneProxyBase,
)

from contracts.events.messages import EventCreated
from shared import broker
from shared.amqp import DEVELOPMENT_BROKER_PASSWORD, with_login
from shared.rpc import ReplyListener


def service_uri(amqp_uri, service):
    """`amqp_uri`'s broker and vhost, logged in as `service` (the
    development password, which tests' services use)."""
    return with_login(amqp_uri, service, DEVELOPMENT_BROKER_PASSWORD)


def set_up_vhost(vhost, keep_guest=True):
    """The services' users and their permissions on `vhost`, as `make db`
    sets them up; `guest` keeps its permissions there (tests observe as
    guest) unless `keep_guest` is false."""
    passwords = dict.fromkeys(broker.table(), DEVELOPMENT_BROKER_PASSWORD)
    broker.setup(vhost, passwords, keep_guest=keep_guest)


def widen_rpc(vhost, user):
    """Let `user` publish and bind any routing key on `nameko-rpc` on
    `vhost`: for a test whose own services stand in for one of the system's
    and call, or answer, services the system does not have."""
    api = broker.Management()
    try:
        api.put(f"topic-permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
                {"exchange": broker.RPC_EXCHANGE, "write": ".*", "read": ".*"})
    finally:
        api.close()


def publish_event(amqp_uri, payload, message_id, source="events", event_type="event.created",
                  headers=None):
    """Publish `payload` (a JSON-ready dict) on `source`'s nameko event
    exchange as `source` does: logged in as it, with its `user_id` and the
    AMQP `message_id` property set as the relay sets them; wait for the
    broker's confirm."""
    exchange = Exchange(f"{source}.events", type="topic", durable=True, no_declare=True)
    with Connection(service_uri(amqp_uri, source),
                    transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(
            payload,
            exchange=exchange,
            routing_key=event_type,
            serializer="json",
            message_id=str(message_id),
            user_id=source,
            headers=headers or {},
            delivery_mode=2,
        )


def send_message(amqp_uri, message):
    """Publish `message` (a `shared.messages.Message`) as its source
    service publishes it (`publish_event`); the message."""
    publish_event(amqp_uri, message.to_payload(), message.message_id, source=message.source,
                  event_type=message.event_type)
    return message


def created(amqp_uri, event_id):
    """Send an `event.created` of event `event_id` (`send_message`)."""
    return send_message(amqp_uri, EventCreated(event_id=event_id, identifier="abcdef12",
                                               owner_id=7))


class _ReplyListener(ReplyListener, SingleThreadedReplyListener):
    """A standalone proxy's reply listener, on the caller's own reply key."""


class CallerProxy(ServiceRpcProxy):
    """nameko's standalone proxy to `service`, calling as the service
    `caller` does: logged in as its broker user, each request with its
    `user_id`, the answers on its own reply key (`shared.rpc`)."""

    def __init__(self, service, config, caller="gateway", context_data=None, timeout=None):
        self.ServiceContainer = type("Caller", (StandaloneProxyBase.ServiceContainer,),
                                     {"service_name": caller})
        config = {**config, AMQP_URI_CONFIG_KEY: service_uri(config[AMQP_URI_CONFIG_KEY], caller)}
        super().__init__(service, config, context_data=context_data, timeout=timeout,
                         reply_listener_cls=_ReplyListener)
        self._proxy = ServiceProxy(self._worker_ctx, service, self._reply_listener,
                                   user_id=caller)


def queue_depth(amqp_uri, queue_name):
    """How many messages are ready in `queue_name`, or None if there is no
    such queue. Unacked messages are not counted: stop the consumers first
    to see everything that could still be delivered."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=queue_name, passive=True).message_count
        except NotFound:
            return None
        finally:
            if channel.is_open:
                channel.close()


def peek(amqp_uri, queue_name):
    """The messages waiting in `queue_name`, in order, left there (taken
    unacked, they go back when the channel closes)."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            queue, messages = Queue(queue_name, durable=True)(channel), []
            while (message := queue.get(no_ack=False)) is not None:
                messages.append(message)
            return messages
        finally:
            channel.close()
