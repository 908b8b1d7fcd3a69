"""RPC between services, made safe for the broker going away.

Calling: nameko's `RpcProxy` waits for a reply forever. `Rpc` is the same
dependency whose calls give up after `RPC_TIMEOUT` seconds with
`Unavailable`, as they do when the target service is not running, or
`Outage` when the broker cannot be reached. Errors the target raises
arrive as themselves (shared.errors).

Answering: `@rpc` is nameko's entrypoint with these changes.
- `@rpc(callers=("gateway",))` answers only those services: the caller is
  the request's AMQP `user_id`, which RabbitMQ checks against the login of
  the connection that sent it (`shared.amqp`); any other caller gets
  `CallerNotAllowed`. Without `callers`, every service of the system may
  call (the broker's permissions say which do, `shared.broker`).
- A reply that cannot be sent (the broker is away) is logged, not raised:
  in nameko it kills the whole service. The caller's call times out.
- A reply is sent without a publisher confirm (nameko waits for one): a
  reply the broker loses is a call that times out either way, and the wait
  cost a round trip and a tenth of a reading service's CPU.
- A redelivered request is dropped: its first delivery went to a consumer
  that lost its connection or stopped, so the caller has given up or will,
  and retries (with an idempotency key where a repeat would matter). An
  RPC runs at most once; nothing is done twice behind a caller's back.

Traced: a call is a client span, which the request carries to the
callee's worker (`shared.tracing`).

Both ways, every request and answer carries the sender's `user_id`; the
answers to a service's calls come back on the routing key
`reply.{service}.{uuid}` (nameko's: the bare uuid), which only that service
may bind. `nameko-rpc` itself is declared by `python -m shared.broker
setup`, not by the services: declaring it needs the permission that would
also delete it.
"""
import logging
import uuid
import warnings
from functools import cached_property, partial

import eventlet
from amqp.exceptions import AMQPError
from kombu import Exchange, Queue
from kombu.exceptions import KombuError
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    RPC_EXCHANGE_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import UnknownService
from nameko.rpc import RPC_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TTL, RpcProxy

from shared import queues
from shared.amqp import user_of
from shared.errors import CallerNotAllowed, Outage, Unavailable
from shared.metrics import metrics_of, outcome
from shared.settings import ServiceSettings, settings_of
from shared.tracing import TracedServiceProxy, tracer_of

log = logging.getLogger(__name__)

BROKER_ERRORS = (OSError, KombuError, AMQPError)


def ack(queue_consumer, message, what):
    """Ack `message`; a connection lost meanwhile is logged, not raised
    (nameko catches amqp's `ConnectionError` only, and a socket's error
    raised in a worker or the consumer kills the service): the broker
    delivers the message again on the next connection, which drops it."""
    try:
        queue_consumer.ack_message(message)
    except BROKER_ERRORS as exc:
        log.warning("could not ack %s (%r): it is delivered again", what, exc)


def rpc_exchange(config):
    """`nameko-rpc`, never declared by a service (see above)."""
    return Exchange(config.get(RPC_EXCHANGE_CONFIG_KEY, "nameko-rpc"), type="topic",
                    durable=True, no_declare=True)


def reply_routing_key(service, reply_id):
    return f"reply.{service}.{reply_id}"


class ReplyPublisher(Publisher):
    """Publishes an answer as the service (`user_id`), without a confirm."""

    use_confirms = False

    def __init__(self, amqp_uri, **options):
        super().__init__(amqp_uri, user_id=user_of(amqp_uri), **options)


class Responder(nameko_rpc.Responder):
    publisher_cls = ReplyPublisher


class RpcConsumer(nameko_rpc.RpcConsumer):
    """nameko's, on the `nameko-rpc` it does not declare, answering (also
    a request no method takes, or one refused) through `Responder`."""

    def setup(self):
        if self.queue is None:
            service = self.container.service_name
            quorum = settings_of(self.container, ServiceSettings).QUORUM_QUEUES
            self.queue = Queue(RPC_QUEUE_TEMPLATE.format(service),
                               exchange=rpc_exchange(self.container.config),
                               routing_key=f"{service}.*", durable=True,
                               queue_arguments=queues.arguments(quorum))
            self.queue_consumer.register_provider(self)
            self._registered = True

    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = Responder(
            config[AMQP_URI_CONFIG_KEY], rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except BROKER_ERRORS as exc:
            log.warning("could not answer %s (%r): the caller's call times out",
                        message.delivery_info.get("routing_key"), exc)
            return result, exc_info
        ack(self.queue_consumer, message, message.delivery_info.get("routing_key"))
        return result, exc_info


class RpcEntrypoint(nameko_rpc.Rpc):
    rpc_consumer = RpcConsumer()

    def __init__(self, callers=None, **kwargs):
        self.callers = None if callers is None else tuple(callers)
        super().__init__(**kwargs)

    def handle_message(self, body, message):
        if message.delivery_info.get("redelivered"):
            log.warning("dropped a redelivered request for %s: its caller retries",
                        self.method_name)
            ack(self.rpc_consumer.queue_consumer, message, self.method_name)
            return
        caller = message.properties.get("user_id")
        if self.callers is not None and caller not in self.callers:
            log.warning("refused %s to %s: it answers %s", self.method_name,
                        caller or "a caller without a user_id", ", ".join(self.callers))
            raise CallerNotAllowed(
                f"{self.container.service_name}.{self.method_name} answers "
                f"{', '.join(self.callers)} only, not {caller or 'a caller without a user_id'}")
        super().handle_message(body, message)


rpc = RpcEntrypoint.decorator


class ReplyListener(nameko_rpc.ReplyListener):
    """nameko's, bound by `reply.{service}.{uuid}` to a `nameko-rpc` it
    does not declare; its queue is not durable (a classic queue, deleted
    when unused): on a cluster, a durable queue whose node went down could
    not be declared again on another."""

    def setup(self):
        reply_id = uuid.uuid4()
        service = self.container.service_name
        self.routing_key = reply_routing_key(service, reply_id)
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(service, reply_id),
            exchange=rpc_exchange(self.container.config), routing_key=self.routing_key,
            durable=False, auto_delete=True, queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL})
        self.queue_consumer.register_provider(self)

    def handle_message(self, body, message):
        """nameko's, with the reply acked by `ack`: a connection lost just
        then left nameko's ack to kill the service."""
        ack(self.queue_consumer, message, "a reply")
        waiting = self._reply_events.pop(message.properties.get("correlation_id"), None)
        if waiting is not None:  # none for a reply delivered again
            waiting.send(body)


class Rpc(RpcProxy):
    rpc_reply_listener = ReplyListener()

    def __init__(self, target_service, **options):
        # no publisher confirm per request: a request the broker loses is a
        # call that times out, as one whose answer is lost; saves a round trip
        super().__init__(target_service, **{"use_confirms": False, **options})

    def setup(self):
        super().setup()
        self.timeout = settings_of(self.container, ServiceSettings).RPC_TIMEOUT
        self.calls = metrics_of(self.container).rpc_calls
        # every request says who sends it; RabbitMQ checks it is the login
        self.options = {**self.options,
                        "user_id": user_of(self.container.config[AMQP_URI_CONFIG_KEY])}
        # nameko asks for mandatory delivery, which needs confirms to tell an
        # unknown service; without them such a call times out instead: known
        warnings.filterwarnings("ignore", message="Mandatory delivery was requested")

    def get_dependency(self, worker_ctx):
        make_proxy = partial(TracedServiceProxy, tracer_of(self.container), worker_ctx,
                             self.target_service, self.rpc_reply_listener, **self.options)
        return TimedServiceProxy(make_proxy, self.timeout, self.calls)


class TimedServiceProxy:
    """`proxy.method(*args)` calls the target's method and waits at most
    `timeout` seconds for the answer; `calls` (`shared.metrics`) counts
    each call by its outcome, a timeout apart. `make_proxy()` makes the
    nameko proxy at the first call (a worker that calls no service pays
    nothing for it)."""

    def __init__(self, make_proxy, timeout, calls):
        self._make_proxy = make_proxy
        self._timeout = timeout
        self._calls = calls

    @cached_property
    def _proxy(self):
        return self._make_proxy()

    def within(self, timeout):
        """The same proxy, waiting at most `timeout` seconds."""
        return TimedServiceProxy(lambda: self._proxy, timeout, self._calls)

    def __getattr__(self, method):
        target = self._proxy.service_name

        def call(*args, **kwargs):
            what = f"{target}.{method}"
            try:
                reply = getattr(self._proxy, method).call_async(*args, **kwargs)
            except UnknownService:
                self._calls.labels(target, method, "unavailable").inc()
                raise Unavailable(f"{what}: the service is not running") from None
            except BROKER_ERRORS as exc:
                self._calls.labels(target, method, "unavailable").inc()
                raise Outage(f"{what}: the broker is unreachable ({exc})") from None
            with eventlet.Timeout(self._timeout, False):
                try:
                    result = reply.result()
                except Exception as exc:
                    self._calls.labels(target, method, outcome(exc)).inc()
                    raise
                self._calls.labels(target, method, "success").inc()
                return result
            self._calls.labels(target, method, "timeout").inc()
            raise Unavailable(f"{what} did not answer within {self._timeout:g}s")
        return call
