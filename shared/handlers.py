"""`@consume(MessageType)`: a nameko event handler with a failure policy.

nameko acks a message whose handler raised, and it is lost. Here:

- the payload is parsed into its contract type before the worker starts; a
  malformed one (`InvalidMessage`) goes straight to the dead-letter queue;
- a handler that raises is retried after each delay of
  `HANDLER_RETRY_DELAYS` (seconds, `ConsumerSettings`): the message waits in
  `{queue}.retry.{n}`, whose TTL dead-letters it back to the handler's queue;
- an `Outage` (the database or broker away) is retried after the first
  delay as often as it takes, without counting: an outage is nobody's
  poison, and dead-lettering it would only leave work for an operator;
- after the last retry it goes to the service's dead-letter queue
  `{service}.dead-letters`, with the original queue and the error in its
  headers, where `python -m shared.deadletters` lists and replays it.

The original delivery is acked only once its retry or dead-letter copy is
confirmed by the broker; if that publish fails the message is requeued.
Handlers must be idempotent (see `shared.inbox`): delivery is at least once.
"""
import logging
import traceback
from datetime import UTC, datetime

from kombu import Queue
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler

from shared.context import HEADER, bound_request_id, valid_request_id
from shared.errors import Outage
from shared.messages import InvalidMessage
from shared.settings import ConsumerSettings, settings_of

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-attempt"
ORIGINAL_QUEUE_HEADER = "x-original-queue"
ERROR_HEADER = "x-error"
DEAD_LETTERED_AT_HEADER = "x-dead-lettered-at"


def dead_letter_queue(service_name):
    return Queue(f"{service_name}.dead-letters", durable=True)


def retry_queue(queue_name, attempt, delay_seconds):
    return Queue(
        f"{queue_name}.retry.{attempt}",
        durable=True,
        queue_arguments={
            "x-message-ttl": int(delay_seconds * 1000),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue_name,
        },
    )


class MessageConsumer(EventHandler):
    def __init__(self, message_type, **kwargs):
        super().__init__(message_type.source, message_type.event_type, **kwargs)
        self.message_type = message_type

    def setup(self):
        super().setup()
        settings = settings_of(self.container, ConsumerSettings)
        self.retry_delays = settings.HANDLER_RETRY_DELAYS
        self.publisher = Publisher(settings.AMQP_URI)
        self.dead_letters = dead_letter_queue(self.container.service_name)

    def handle_message(self, body, message):
        try:
            parsed = self.message_type.parse(body)
        except InvalidMessage as exc:
            # no worker runs for it: log with the request id it came with
            with bound_request_id(valid_request_id(message.headers.get(HEADER))):
                self._dead_letter(message, exc)
            return
        super().handle_message(parsed, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            log.info("%s handled %s %s", self.method_name, self.event_type,
                     message.properties.get("message_id"))
            self.queue_consumer.ack_message(message)
            return
        if isinstance(exc_info[1], Outage):
            self._wait_out(message, exc_info[1])
            return
        attempt = int(message.headers.get(ATTEMPT_HEADER, 0)) + 1
        if attempt <= len(self.retry_delays):
            self._retry(message, attempt, exc_info[1])
        else:
            self._dead_letter(message, exc_info[1])

    def _retry(self, message, attempt, exc):
        delay = self.retry_delays[attempt - 1]
        log.warning("%s failed (%r); retry %d in %ss", self.method_name, exc, attempt, delay)
        self._park(message, retry_queue(self.queue.name, attempt, delay), {ATTEMPT_HEADER: attempt})

    def _wait_out(self, message, exc):
        """The database or broker is away: not the message's fault. Retry
        after the first delay, without counting the attempt."""
        delay = self.retry_delays[0]
        log.warning("%s met an outage (%r); retry in %ss, not counted", self.method_name, exc,
                    delay)
        attempts = int(message.headers.get(ATTEMPT_HEADER, 0))
        self._park(message, retry_queue(self.queue.name, 1, delay), {ATTEMPT_HEADER: attempts})

    def _dead_letter(self, message, exc):
        log.error("%s gave up on a message (%r): dead-lettered", self.method_name, exc)
        self._park(message, self.dead_letters, {
            ORIGINAL_QUEUE_HEADER: self.queue.name,
            ERROR_HEADER: "".join(traceback.format_exception_only(exc)).strip()[:2000],
            DEAD_LETTERED_AT_HEADER: datetime.now(UTC).isoformat(),
        })

    def _park(self, message, queue, extra_headers):
        """Publish a copy of the message to `queue` (confirmed), then ack the
        original; if the copy cannot be published, requeue the original."""
        try:
            self.publisher.publish(
                message.payload,
                exchange="",
                routing_key=queue.name,
                declare=[queue],
                headers={**message.headers, **extra_headers},
                message_id=message.properties.get("message_id"),
            )
        except Exception:
            log.exception("could not park the message; it goes back to its queue")
            self.queue_consumer.requeue_message(message)
        else:
            self.queue_consumer.ack_message(message)


consume = MessageConsumer.decorator
