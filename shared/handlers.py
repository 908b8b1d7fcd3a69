"""`@consume(MessageType)`: a nameko event handler with a failure policy.

nameko acks a message whose handler raised, and it is lost. Here:

- a message is believed only from the service that owns its exchange
  (`message_type.source`): its AMQP `user_id`, which RabbitMQ checks
  against the publisher's login, must name that service; one from anyone
  else, or from no one, is dead-lettered at once (`WrongSender`). A copy
  the service parked itself (its own `user_id`) names the original's
  sender in `x-sender`, which is believed on such a copy only;
- the payload is parsed into its contract type before the worker starts; a
  malformed one (`InvalidMessage`) goes straight to the dead-letter queue;
  so does one the handler refuses with an `InvalidMessage` of its own (a
  `ForgedMessage`: a claim its data contradicts): no retry can change that;
- a handler that raises is retried after each delay of
  `HANDLER_RETRY_DELAYS` (seconds, `ConsumerSettings`): the message waits in
  `{queue}.retry.{n}`, whose TTL dead-letters it back to the handler's queue;
- an `Outage` (the database or broker away) is retried after the first
  delay as often as it takes, without counting: an outage is nobody's
  poison, and dead-lettering it would only leave work for an operator;
- after the last retry it goes to the service's dead-letter queue
  `{service}.dead-letters`, with the original queue and the error in its
  headers, where `python -m shared.deadletters` lists and replays it.

Retries, dead letters and replays travel through the service's own direct
exchange `{service}.handlers`, to which each of its handlers' queues is
bound by its name: never through the default exchange, which would let a
service write to any queue of the vhost (`shared.broker`).

The original delivery is acked only once its retry or dead-letter copy is
confirmed by the broker; if that publish fails the message is requeued.
On quorum queues (`QUORUM_QUEUES`, `shared.queues`) the same holds, and a
message redelivered past the broker's delivery limit is dead-lettered too.
Handlers must be idempotent (see `shared.inbox`): delivery is at least once.
`shared.batches` applies several messages per transaction under this policy.
"""
import logging
import traceback
from datetime import UTC, datetime

from amqp.exceptions import NotFound
from kombu import Connection, Exchange, Queue, binding
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY
from nameko.events import EventHandler

from shared import queues
from shared.amqp import user_of
from shared.context import HEADER, bound_request_id, valid_request_id
from shared.errors import Outage
from shared.messages import InvalidMessage
from shared.metrics import metrics_of
from shared.rpc import BROKER_ERRORS
from shared.settings import ConsumerSettings, settings_of

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-attempt"
ORIGINAL_QUEUE_HEADER = "x-original-queue"
ERROR_HEADER = "x-error"
DEAD_LETTERED_AT_HEADER = "x-dead-lettered-at"
SENDER_HEADER = "x-sender"  # on a parked copy: who sent the original


class WrongSender(InvalidMessage):
    """The message's `user_id` is not the service that publishes its type."""

    code = "wrong_sender"


def handlers_exchange(service_name):
    """The service's own exchange to its handlers' queues (routing key: the
    queue's name)."""
    return Exchange(f"{service_name}.handlers", type="direct", durable=True)


def own_queue(service_name, name, queue_arguments=None):
    """A queue of the service's, reached through its `handlers_exchange`."""
    return Queue(name, exchange=handlers_exchange(service_name), routing_key=name,
                 durable=True, queue_arguments=queue_arguments or {})


def dead_letter_queue(service_name, quorum=False):
    return own_queue(service_name, f"{service_name}.dead-letters", queues.arguments(quorum))


def retry_queue(service_name, queue_name, attempt, delay_seconds, quorum=False):
    return own_queue(service_name, f"{queue_name}.retry.{attempt}", queues.arguments(quorum, **{
        "x-message-ttl": int(delay_seconds * 1000),
        "x-dead-letter-exchange": handlers_exchange(service_name).name,
        "x-dead-letter-routing-key": queue_name,
    }))


def queue_depth(amqp_uri, queue, ssl=None):
    """How many messages wait in `queue` (0 if it is not declared yet)."""
    with Connection(amqp_uri, ssl=ssl, connect_timeout=2) as connection:
        try:
            return queue(connection.channel()).queue_declare(passive=True).message_count
        except NotFound:
            return 0


def declare(amqp_uri, queue, ssl=None):
    """Declare `queue`, waiting for the broker as nameko's consumers do."""
    with Connection(amqp_uri, ssl=ssl, connect_timeout=2) as connection:
        connection.ensure_connection(errback=lambda exc, interval: log.warning(
            "could not declare %s (%r); retrying in %ss", queue.name, exc, interval))
        queue(connection.channel()).declare()


def sender_of(message, own_user):
    """Who sent `message`, as RabbitMQ checked it (`user_id`); on a copy
    `own_user` parked (its `user_id`), who sent the original."""
    user_id = message.properties.get("user_id")
    headers = message.headers or {}
    if user_id == own_user and SENDER_HEADER in headers:
        return headers[SENDER_HEADER]
    return user_id


class MessageConsumer(EventHandler):
    def __init__(self, message_type, **kwargs):
        super().__init__(message_type.source, message_type.event_type, **kwargs)
        self.message_type = message_type

    def setup(self):
        super().setup()
        settings = settings_of(self.container, ConsumerSettings)
        service = self.container.service_name
        # nameko's queue, bound also to the service's own exchange; the
        # source's exchange is the broker setup's to declare, not ours
        source = Exchange(self.queue.exchange.name, type="topic", durable=True, no_declare=True)
        self.quorum = settings.QUORUM_QUEUES
        self.dead_letters = dead_letter_queue(service, self.quorum)
        self.queue = Queue(self.queue.name, durable=True, bindings=[
            binding(source, routing_key=self.event_type),
            binding(handlers_exchange(service), routing_key=self.queue.name)],
            queue_arguments=queues.delivery_limited(
                self.quorum, handlers_exchange(service).name, self.dead_letters.name))
        self.retry_delays = settings.HANDLER_RETRY_DELAYS
        self.amqp_uri = amqp_uri = self.container.config[AMQP_URI_CONFIG_KEY]
        self.ssl = ssl = self.container.config.get(AMQP_SSL_CONFIG_KEY)
        self.user = user_of(amqp_uri)
        self.publisher = Publisher(amqp_uri, user_id=self.user, ssl=ssl)
        self.metrics = metrics_of(self.container)
        self.metrics.probe(
            "dead_letter_queue_messages", "messages waiting in the service's dead-letter queue",
            lambda: {(self.dead_letters.name,): queue_depth(amqp_uri, self.dead_letters, ssl)},
            labels=("queue",))

    def start(self):
        if self.quorum:
            # the broker dead-letters there too (past the delivery limit): before the
            # queue exists, such a letter waits unseen in the handler's queue for minutes
            declare(self.amqp_uri, self.dead_letters, self.ssl)
        super().start()

    def handle_message(self, body, message):
        sender = sender_of(message, self.user)
        if sender != self.message_type.source:
            with bound_request_id(valid_request_id(message.headers.get(HEADER))):
                self._dead_letter(message, WrongSender(
                    f"{self.event_type} from {sender or 'a sender without a user_id'}: "
                    f"only {self.message_type.source} publishes it"))
            return
        try:
            parsed = self.message_type.parse(body)
        except InvalidMessage as exc:
            # no worker runs for it: log with the request id it came with
            with bound_request_id(valid_request_id(message.headers.get(HEADER))):
                self._dead_letter(message, exc)
            return
        self.handle_parsed(parsed, message)

    def handle_parsed(self, parsed, message):
        """A worker for the message (`shared.batches` gathers them first)."""
        super().handle_message(parsed, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            log.info("%s handled %s %s", self.method_name, self.event_type,
                     message.properties.get("message_id"))
            self._settle(self.queue_consumer.ack_message, message)
            return
        if isinstance(exc_info[1], Outage):
            self._wait_out(message, exc_info[1])
            return
        if isinstance(exc_info[1], InvalidMessage):
            self._dead_letter(message, exc_info[1])
            return
        attempt = int(message.headers.get(ATTEMPT_HEADER, 0)) + 1
        if attempt <= len(self.retry_delays):
            self._retry(message, attempt, exc_info[1])
        else:
            self._dead_letter(message, exc_info[1])

    def _retry(self, message, attempt, exc):
        delay = self.retry_delays[attempt - 1]
        log.warning("%s failed (%r); retry %d in %ss", self.method_name, exc, attempt, delay)
        self.metrics.handler_retries.labels(self.queue.name).inc()
        self._park(message, self._retry_queue(attempt, delay), {ATTEMPT_HEADER: attempt})

    def _wait_out(self, message, exc):
        """The database or broker is away: not the message's fault. Retry
        after the first delay, without counting the attempt."""
        delay = self.retry_delays[0]
        log.warning("%s met an outage (%r); retry in %ss, not counted", self.method_name, exc,
                    delay)
        attempts = int(message.headers.get(ATTEMPT_HEADER, 0))
        self._park(message, self._retry_queue(1, delay), {ATTEMPT_HEADER: attempts})

    def _dead_letter(self, message, exc):
        log.error("%s gave up on a message (%r): dead-lettered", self.method_name, exc)
        self.metrics.dead_letters.labels(self.queue.name).inc()
        self._park(message, self.dead_letters, {
            ORIGINAL_QUEUE_HEADER: self.queue.name,
            ERROR_HEADER: "".join(traceback.format_exception_only(exc)).strip()[:2000],
            DEAD_LETTERED_AT_HEADER: datetime.now(UTC).isoformat(),
        })

    def _retry_queue(self, attempt, delay):
        return retry_queue(self.container.service_name, self.queue.name, attempt, delay,
                           self.quorum)

    def _park(self, message, queue, extra_headers):
        """Publish a copy of the message to `queue` (confirmed), then ack the
        original; if the copy cannot be published, requeue the original.
        The copy names the original's sender."""
        try:
            self.publisher.publish(
                message.payload,
                exchange=queue.exchange,
                routing_key=queue.name,
                declare=[queue],
                headers={**message.headers, **extra_headers,
                         SENDER_HEADER: sender_of(message, self.user) or ""},
                message_id=message.properties.get("message_id"),
            )
        except Exception:
            log.exception("could not park the message; it goes back to its queue")
            self._settle(self.queue_consumer.requeue_message, message)
        else:
            self._settle(self.queue_consumer.ack_message, message)

    def _settle(self, ack_or_requeue, message):
        """Ack or requeue; on a connection already lost (its node stopped)
        the broker delivers the message again, which the inbox makes
        harmless: logged, not raised (raised, it would kill the service)."""
        try:
            ack_or_requeue(message)
        except BROKER_ERRORS as exc:
            log.warning("%s could not settle %s (%r): it is delivered again", self.method_name,
                        message.properties.get("message_id"), exc)


consume = MessageConsumer.decorator
