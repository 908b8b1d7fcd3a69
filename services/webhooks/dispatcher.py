"""The delivery loop: for as long as the service runs, claims due
deliveries (`deliveries.claim`) and posts each on a green thread of a pool
of `WEBHOOK_SENDERS`, then records how it went in a transaction of its own
(no connection is held while a receiver takes its time).

A slow or dead endpoint takes one sender at most (only a webhook's oldest
pending delivery is ever due) for at most `WEBHOOK_TIMEOUT`, so the other
endpoints keep the rest of the pool. The loop sleeps until a `NOTIFY`
(a new delivery, or one finished) or `WEBHOOK_POLL_INTERVAL` (retries
falling due) wakes it.
"""
import logging

import eventlet
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider
from sqlalchemy.orm import sessionmaker

from services.webhooks import deliveries, sending
from services.webhooks.settings import WebhooksSettings
from shared.db import UnitOfWork, make_engine
from shared.metrics import metrics_of
from shared.notifications import Listener
from shared.settings import settings_of

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30  # past the timeout, before a claimed delivery is due again


class Dispatcher(DependencyProvider):
    def setup(self):
        self.settings = settings_of(self.container, WebhooksSettings)
        self.engine = make_engine(self.settings.DATABASE_URL,
                                  pool_size=self.settings.WEBHOOK_SENDERS + 2)
        self.session = sessionmaker(bind=self.engine)
        self.senders = GreenPool(self.settings.WEBHOOK_SENDERS)
        self.delivered = metrics_of(self.container).webhook_deliveries
        self.listener = Listener(self.engine, deliveries.CHANNEL,
                                 self.settings.WEBHOOK_POLL_INTERVAL)
        self._running = False

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        self._running = False
        self._thread.kill()
        self.senders.waitall()
        self.listener.close()
        self.engine.dispose()

    def kill(self):
        self._running = False
        self._thread.kill()
        self.listener.close()

    def dispatch(self):
        """Claim what is due, as many as there are free senders, and post
        each on one; how many were claimed."""
        free = self.senders.free()
        if not free:
            return 0
        with UnitOfWork(self.session).transaction() as session:
            due = deliveries.claim(session, free,
                                   self.settings.WEBHOOK_TIMEOUT + LEASE_MARGIN_SECONDS)
        for delivery in due:
            self.senders.spawn_n(self._deliver, delivery)
        return len(due)

    def _deliver(self, due):
        payload = sending.body(due.type, due.occurred_at, due.data)
        outcome = sending.post(due.url, due.secret, due.message_id, payload, self.settings)
        self.delivered.labels(str(due.webhook_id),
                              "success" if outcome.succeeded else "failure").inc()
        log.info("delivery %s of %s to webhook %s: %s", due.id, due.message_id, due.webhook_id,
                 outcome.status_code or outcome.error)
        try:
            with UnitOfWork(self.session).transaction() as session:
                deliveries.finish(session, due.id, outcome, self.settings)
        except Exception:  # its lease lapses, and it is tried again
            log.warning("could not record delivery %s", due.id, exc_info=True)

    def _run(self):
        while self._running:
            try:
                self.listener.listen()
                while self._running and self.dispatch():
                    pass
                self.listener.wait()
            except Exception:
                log.warning("webhook delivery loop: will retry", exc_info=True)
                self.listener.close()
                eventlet.sleep(self.settings.WEBHOOK_POLL_INTERVAL)
