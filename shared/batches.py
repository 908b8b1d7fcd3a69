"""`@consume_batches(MessageType)`: `@consume` for a handler that takes a
list of messages and applies them in one transaction (`shared.inbox.
apply_each_once`), which costs a handler far less per message than one
worker, one transaction and one commit each.

- Each message's effect once: the batch's inbox rows and effects commit
  together, and only then are its messages acked (each with its own ack:
  the channel is shared, so an ack of `multiple` could settle another's).
- A failing message alone: if the batch fails, its transaction rolls back
  and its messages run again one at a time, each with `@consume`'s policy
  (the successes acked, the failing one retried and dead-lettered as
  `shared.handlers` says, its request id and attempts its own). An
  `Outage` fails every message alike: all wait it out, none counted.
- A message that kills its consumer alone: one the broker delivers again
  (`redelivered`: a consumer died or lost its connection holding it) may be
  what killed it, so it is applied as `@consume` applies one, in a batch
  of its own and a worker of its own at once, the batches going on beside
  it. In a batch, it would die again with its batch-mates, and the messages
  waiting behind it; the broker counts each death against every one of
  them (a quorum queue's delivery limit, `shared.queues`), so all would
  reach the dead letters with it.
- Order: a handler applies one batch at a time, its messages in delivery
  order (the handler gets them so), and the one-at-a-time rerun keeps that
  order; so on one consumer, messages commit in delivery order. A message
  parked for its retry is overtaken by those behind it, those of its event
  included, and messages delivered again are applied side by side – as
  with `@consume`, whose concurrent workers give no order at all.
  Consumers side by side (replicas) share the queue: between them there is
  no order.

A batch is what has arrived by the time the previous one is done (at most
`MESSAGE_BATCH_SIZE`), so a lone message waits for no other; RabbitMQ hands
the handler up to `MESSAGE_PREFETCH` unacked messages, on a connection of
the batch handlers' own (`ConsumerSettings`).
"""
import logging

from eventlet import sleep
from eventlet.event import Event
from nameko.messaging import QueueConsumer

from shared.errors import Outage
from shared.handlers import MessageConsumer
from shared.settings import ConsumerSettings, settings_of

log = logging.getLogger(__name__)


class BatchQueueConsumer(QueueConsumer):
    """nameko's queue consumer with a prefetch of its own."""

    @property
    def prefetch_count(self):
        return settings_of(self.container, ConsumerSettings).MESSAGE_PREFETCH


class BatchConsumer(MessageConsumer):
    queue_consumer = BatchQueueConsumer()

    def setup(self):
        super().setup()
        self.batch_size = settings_of(self.container, ConsumerSettings).MESSAGE_BATCH_SIZE
        self.waiting = []  # (parsed, message), in delivery order
        self.draining = False
        self.drained = Event()

    def stop(self):
        super().stop()  # no more deliveries; apply and ack those already here
        if self.draining:
            self.drained.wait()

    def handle_parsed(self, parsed, message):
        if message.delivery_info.get("redelivered"):
            super().handle_parsed([parsed], message)  # alone, at once: a suspect
            return
        self.waiting.append((parsed, message))
        if not self.draining:
            self.draining, self.drained = True, Event()
            self.container.spawn_managed_thread(self._drain, identifier=f"{self}.drain")

    def _drain(self):
        """Apply what waits, one batch after another, until nothing does."""
        try:
            sleep()  # the deliveries already read join the first batch
            while self.waiting:
                batch = self.waiting[:self.batch_size]
                del self.waiting[:self.batch_size]
                self._apply(batch)
        finally:
            self.draining = False
            self.drained.send()

    def _apply(self, batch):
        exc_info = self._run(batch)
        if exc_info is None:
            return
        if len(batch) == 1 or isinstance(exc_info[1], Outage):
            for _, message in batch:
                self.handle_message_processed(message, exc_info=exc_info)
            return
        log.warning("%s failed on a batch of %d (%r): one at a time", self.method_name,
                    len(batch), exc_info[1])
        for delivery in batch:
            if (exc_info := self._run([delivery])) is not None:
                self.handle_message_processed(delivery[1], exc_info=exc_info)

    def _run(self, batch):
        """The handler on `batch`'s messages in a worker (with the first one's
        context); its exc_info, or None. If it succeeds, the messages are
        acked in the worker, as `@consume` acks: the `handled` line carries
        the worker's request id."""
        done = Event()

        def handle_result(worker_ctx, result, exc_info):
            try:
                if exc_info is None:
                    self._handled(batch)
            finally:
                done.send(exc_info)
            return result, exc_info

        self.container.spawn_worker(
            self, ([parsed for parsed, _ in batch],), {},
            context_data=self.unpack_message_headers(batch[0][1]), handle_result=handle_result)
        return done.wait()

    def _handled(self, batch):
        for _, message in batch:
            self._settle(self.queue_consumer.ack_message, message)
        log.info("%s handled %d %s: %s", self.method_name, len(batch), self.event_type,
                 " ".join(str(m.properties.get("message_id")) for _, m in batch))


consume_batches = BatchConsumer.decorator
