"""The webhooks service: posts an event's messages to the HTTPS endpoints
its organizers name, signed as the Standard Webhooks specification says,
at least once, in order per endpoint, retried with backoff for about a
day; and keeps the log of every delivery and its attempts.

Its RPC methods, their answers and errors are `contracts.webhooks.rpc`;
each acts for the proven actor (`shared.actors`), who must be organizer+
of the event (asked of the roles service between transactions, as the
events service does). Each message below it consumes once, in batches
(`shared.batches`, `shared.inbox.apply_each_once`), and turns into a
delivery per webhook that asked for its type (`deliveries.record`), in
the order it was delivered; the delivery loop
(`dispatcher`) posts them. It publishes `webhook.disabled`
(`contracts.webhooks.messages`) through its outbox.
"""
from functools import partial

from sqlalchemy import text

from contracts.errors import AccessDenied
from contracts.events.messages import (
    EventCopied,
    EventDeleted,
    EventVisibilityChanged,
    SponsorDeleted,
)
from contracts.media.messages import MediaChanged, MediaCopied
from contracts.roles.messages import (
    InviteAccepted,
    InviteCreated,
    InviteResent,
    RoleChanged,
    RoleRevoked,
)
from contracts.vocabulary import Permission
from contracts.webhooks.errors import InvalidWebhookData
from services.webhooks import addresses, deliveries, hooks
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.settings import WebhooksSettings
from shared.actors import Actor
from shared.batches import consume_batches
from shared.context import RequestContext
from shared.db import Database
from shared.ids import as_id
from shared.inbox import apply_each_once
from shared.metrics import Metrics
from shared.permissions import Permissions
from shared.relay import OutboxRelay
from shared.rpc import rpc
from shared.settings import Settings
from shared.tracing import Tracing

GATEWAY = ("gateway",)


class WebhooksService:
    name = "webhooks"

    db = Database()
    relay = OutboxRelay()
    dispatcher = Dispatcher()
    permissions = Permissions(denied=AccessDenied)
    request_context = RequestContext()
    metrics = Metrics()
    tracing = Tracing()
    actor = Actor()
    settings: WebhooksSettings = Settings(WebhooksSettings)

    @rpc(callers=GATEWAY)
    def create_webhook(self, event_id, data):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            return hooks.create(session, event_id, data, self._check_url)

    @rpc(callers=GATEWAY)
    def list_webhooks(self, event_id, limit=None, offset=None):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            return hooks.list_webhooks(session, event_id, limit, offset)

    @rpc(callers=GATEWAY)
    def get_webhook(self, event_id, webhook_id):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            return hooks.serialize(hooks.find(session, event_id, _id(webhook_id)))

    @rpc(callers=GATEWAY)
    def update_webhook(self, event_id, webhook_id, data):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            return hooks.update(session, event_id, _id(webhook_id), data, self._check_url)

    @rpc(callers=GATEWAY)
    def delete_webhook(self, event_id, webhook_id):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            hooks.delete(session, event_id, _id(webhook_id))

    @rpc(callers=GATEWAY)
    def test_webhook(self, event_id, webhook_id):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            return deliveries.ping(session, hooks.find(session, event_id, _id(webhook_id)))

    @rpc(callers=GATEWAY)
    def list_deliveries(self, event_id, webhook_id, limit=None, offset=None):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            webhook = hooks.find(session, event_id, _id(webhook_id))
            return deliveries.list_deliveries(session, webhook, limit, offset)

    @rpc(callers=GATEWAY)
    def retry_delivery(self, event_id, webhook_id, delivery_id):
        event_id = self._authorize(event_id)
        with self.db.transaction() as session:
            webhook = hooks.find(session, event_id, _id(webhook_id))
            return deliveries.retry(session, webhook, _id(delivery_id))

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "database": "ok"}

    # the messages an endpoint may ask for (contracts.webhooks.schemas.EVENT_TYPES),
    # in batches: each is a few rows, so one transaction for many costs far less
    # than one for each (docs/architecture.md#batches)

    @consume_batches(EventCopied)
    def on_event_copied(self, messages):
        self._record(messages)

    @consume_batches(EventDeleted)
    def on_event_deleted(self, messages):
        self._record(messages)

    @consume_batches(EventVisibilityChanged)
    def on_event_visibility_changed(self, messages):
        self._record(messages)

    @consume_batches(SponsorDeleted)
    def on_sponsor_deleted(self, messages):
        self._record(messages)

    @consume_batches(InviteCreated)
    def on_invite_created(self, messages):
        self._record(messages)

    @consume_batches(InviteResent)
    def on_invite_resent(self, messages):
        self._record(messages)

    @consume_batches(InviteAccepted)
    def on_invite_accepted(self, messages):
        self._record(messages)

    @consume_batches(RoleChanged)
    def on_role_changed(self, messages):
        self._record(messages)

    @consume_batches(RoleRevoked)
    def on_role_revoked(self, messages):
        self._record(messages)

    @consume_batches(MediaCopied)
    def on_media_copied(self, messages):
        self._record(messages)

    @consume_batches(MediaChanged)
    def on_media_changed(self, messages):
        self._record(messages)

    def _record(self, messages):
        apply_each_once(self.db, self.name, messages, deliveries.record)

    def _authorize(self, event_id):
        """The event's id, once the proven actor is organizer+ of it."""
        actor_id, event_id = self.actor.id, _id(event_id)
        self.permissions.require(actor_id, Permission.IS_ORGANIZER, event_id)
        return event_id

    @property
    def _check_url(self):
        return partial(addresses.check, settings=self.settings)


def _id(value):
    found = as_id(value)
    if found is None:
        raise InvalidWebhookData(f"not an id: {value!r}")
    return found
