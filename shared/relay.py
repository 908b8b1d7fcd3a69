"""Outbox relay: publishes committed outbox rows to the service's nameko
event exchange (`{service}.events`, routing key = event type), so ordinary
`@event_handler` / `@consume` consumers receive them.

- Publisher confirms: a row is deleted only after the broker confirmed it,
  in the transaction that read it. A crash in between publishes it again
  (at-least-once); consumers are idempotent. A batch is published on one
  channel in confirm mode and its acks awaited once, not message by message
  (nameko's `Publisher` waits for each: it held the relay to ~1,000/s).
- Broker down: the transaction rolls back, rows wait, the relay retries.
- Order and many relays: a relay publishes only while it holds a transaction
  advisory lock, so one relay at a time sends rows, in id order; other
  instances stand by and take over when it stops.
- Promptness: the relay LISTENs on the outbox channel and is woken by the
  NOTIFY of each committing writer; the poll interval is only a fallback.
- Traced: each row goes out in a producer span, a child of the span that
  wrote it, which the message carries to its consumers (`shared.tracing`).
- The sender is known: each message carries the service's broker user as
  its AMQP `user_id`, which RabbitMQ checks against the login
  (`shared.amqp`); consumers believe a message only from its source.
"""
import logging
import time

import eventlet
from eventlet.semaphore import Semaphore
from kombu import Connection
from kombu.serialization import dumps
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, PERSISTENT
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from sqlalchemy import delete, func, select, text

from shared.amqp import user_of
from shared.db import make_engine
from shared.metrics import metrics_of
from shared.notifications import Listener
from shared.outbox import CHANNEL
from shared.settings import OutboxSettings, settings_of
from shared.tables import outbox
from shared.tracing import publishing, tracer_of

log = logging.getLogger(__name__)

RELAY_LOCK = 0x0B7B0C5  # any constant: each service has its own database


class OutboxRelay(DependencyProvider):
    """Runs the relay loop for as long as the service container runs."""

    def setup(self):
        settings = settings_of(self.container, OutboxSettings)
        self.poll_interval = settings.OUTBOX_POLL_INTERVAL
        self.batch_size = settings.OUTBOX_BATCH_SIZE
        self.engine = make_engine(settings.DATABASE_URL, pool_size=3)  # listen, relay, scrape
        self.metrics = metrics_of(self.container)
        self.metrics.probe("outbox_pending", "outbox rows not yet published",
                           lambda: self._backlog()[0])
        self.metrics.probe("outbox_oldest_seconds", "age of the oldest unpublished outbox row "
                           "(0: none)", lambda: self._backlog()[1])
        self.exchange = get_event_exchange(self.container.service_name, self.container.config)
        self.publisher = BatchPublisher(self.container.config[AMQP_URI_CONFIG_KEY], self.exchange,
                                        ssl=self.container.config.get(AMQP_SSL_CONFIG_KEY))
        self.listener = Listener(self.engine, CHANNEL, self.poll_interval)
        self._running = False
        self._in_batch = Semaphore()

    def start(self):
        self.tracer = tracer_of(self.container)  # set up by now, as every extension
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        # let a batch under way finish, then end the loop wherever it waits
        self._running = False
        with self._in_batch:
            self._thread.kill()
        self.listener.close()
        self.publisher.close()
        self.engine.dispose()

    def kill(self):
        self._running = False
        self._thread.kill()
        self.listener.close()
        self.publisher.close()

    def relay_batch(self):
        """Publish up to one batch of pending rows; return how many."""
        with self.engine.begin() as conn:
            if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK}):
                return 0
            rows = conn.execute(select(outbox).order_by(outbox.c.id).limit(self.batch_size)).all()
            if rows:
                self.metrics.relay_published.inc(len(rows))
                with publishing(self.tracer, rows) as outgoing:
                    self.publisher.publish_confirmed(outgoing)
                self.metrics.relay_confirmed.inc(len(rows))
                conn.execute(delete(outbox).where(outbox.c.id.in_([row.id for row in rows])))
        return len(rows)

    def _backlog(self):
        """(rows pending, seconds the oldest has waited)."""
        with self.engine.connect() as conn:
            count, oldest = conn.execute(select(
                func.count(), func.coalesce(func.extract("epoch", func.now() - func.min(
                    outbox.c.created_at)), 0))).one()
        return count, float(oldest)

    def _run(self):
        while self._running:
            try:
                self.listener.listen()
                while self._running and self._relay_batch_guarded() == self.batch_size:
                    pass
                self.listener.wait()
            except Exception:
                log.warning("outbox relay: will retry", exc_info=True)
                self.listener.close()
                eventlet.sleep(self.poll_interval)

    def _relay_batch_guarded(self):
        with self._in_batch:
            return self.relay_batch()


class BatchPublisher:
    """Publishes outbox rows on a channel of its own in confirm mode and
    returns once the broker has confirmed every one. A nack, a lost
    connection or no confirm within `confirm_timeout` raises, and the next
    batch starts on a fresh connection."""

    def __init__(self, amqp_uri, exchange, confirm_timeout=10.0, ssl=None):
        self.amqp_uri = amqp_uri
        self.ssl = ssl  # nameko's AMQP_SSL: None or False, True, or ssl options
        self.user = user_of(amqp_uri)
        self.exchange = exchange
        self.confirm_timeout = confirm_timeout
        self._connection = None

    def publish_confirmed(self, rows):
        try:
            channel = self._open()
            for row in rows:
                content_type, encoding, body = dumps(row.payload, serializer="json")
                message = channel.prepare_message(
                    body, content_type=content_type, content_encoding=encoding,
                    headers=row.headers,
                    properties={"delivery_mode": PERSISTENT, "message_id": str(row.message_id),
                                "user_id": self.user},
                )
                channel._basic_publish(message, exchange=self.exchange.name,
                                       routing_key=row.event_type)
                self._published += 1
                self._unconfirmed.add(self._published)
            self._await_confirms()
        except BaseException:
            self.close()
            raise

    def close(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                pass
            self._connection = None

    def _open(self):
        if self._connection is None:
            self._connection = Connection(self.amqp_uri, ssl=self.ssl)
            channel = self._connection.channel()
            self.exchange(channel).declare()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._confirm_channel = channel
            self._published = 0  # delivery tags count from 1 on each channel
            self._unconfirmed = set()
            self._nacked = False
        return self._confirm_channel

    def _await_confirms(self):
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed:
            if self._nacked:
                raise RuntimeError("the broker refused (nacked) an outbox message")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no publisher confirm within {self.confirm_timeout:g}s")
            self._connection.drain_events(timeout=remaining)

    def _on_ack(self, delivery_tag, multiple):
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag, multiple):
        self._nacked = True
