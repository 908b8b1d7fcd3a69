"""`@consume(MessageType)`: a nameko event handler with a failure policy.

nameko acks a message whose handler raised, and it is lost. Here:

- the payload is parsed into its contract type before the worker starts; a
  malformed one (`InvalidMessage`) goes straight to the dead-letter queue;
- a handler that raises is retried after each delay of
  `HANDLER_RETRY_DELAYS` (seconds, default 1, 5, 25): the message waits in
  `{queue}.retry.{n}`, whose TTL dead-letters it back to the handler's queue;
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
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import EventHandler

from shared.messages import InvalidMessage

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-attempt"
ORIGINAL_QUEUE_HEADER = "x-original-queue"
ERROR_HEADER = "x-error"
DEAD_LETTERED_AT_HEADER = "x-dead-lettered-at"
DEFAULT_RETRY_DELAYS = (1, 5, 25)


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
        config = self.container.config
        self.retry_delays = config.get("HANDLER_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
        self.publisher = Publisher(config[AMQP_URI_CONFIG_KEY])
        self.dead_letters = dead_letter_queue(self.container.service_name)

    def handle_message(self, body, message):
        try:
            parsed = self.message_type.parse(body)
        except InvalidMessage as exc:
            self._settle(message, self._dead_letter(body, message, exc))
            return
        super().handle_message(parsed, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        body = message.payload
        attempt = int(message.headers.get(ATTEMPT_HEADER, 0)) + 1
        if attempt <= len(self.retry_delays):
            self._settle(message, self._retry(body, message, attempt, exc_info[1]))
        else:
            self._settle(message, self._dead_letter(body, message, exc_info[1]))

    def _retry(self, body, message, attempt, exc):
        delay = self.retry_delays[attempt - 1]
        log.warning("%s failed (%r); retry %d in %ss", self.method_name, exc, attempt, delay)
        queue = retry_queue(self.queue.name, attempt, delay)
        return lambda: self._republish(body, message, queue, {ATTEMPT_HEADER: attempt})

    def _dead_letter(self, body, message, exc):
        log.error("%s gave up on a message (%r): dead-lettered", self.method_name, exc)
        headers = {
            ORIGINAL_QUEUE_HEADER: self.queue.name,
            ERROR_HEADER: "".join(traceback.format_exception_only(exc)).strip()[:2000],
            DEAD_LETTERED_AT_HEADER: datetime.now(UTC).isoformat(),
        }
        return lambda: self._republish(body, message, self.dead_letters, headers)

    def _republish(self, body, message, queue, extra_headers):
        headers = {**message.headers, **extra_headers}
        self.publisher.publish(
            body,
            exchange="",
            routing_key=queue.name,
            declare=[queue],
            headers=headers,
            message_id=message.properties.get("message_id"),
        )

    def _settle(self, message, republish):
        try:
            republish()
        except Exception:
            log.exception("could not park the message; it goes back to its queue")
            self.queue_consumer.requeue_message(message)
        else:
            self.queue_consumer.ack_message(message)


consume = MessageConsumer.decorator
