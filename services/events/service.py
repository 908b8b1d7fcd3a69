"""The events service: owns events and everything in them, and copies an
event with one call.

Its RPC methods, their answers and errors are `contracts.events.rpc`; the
messages it publishes `contracts.events.messages`. Each change runs in one
transaction; the messages it announces go out through the outbox.

Authorization (defence in depth, behind the gateway's own checks): every
change is authorized against the roles service for the actor the call
proves (`shared.actors`: the gateway's signed assertion, never an
argument). The event is found in a short
read, the roles service asked with no transaction open, and the change
made in a transaction of its own. Reads (`get_event`, `list_events`,
`list_public_events`, `list_children`, `get_child`) take no actor: they
are internal reads that other services rely on, and the gateway decides
who may see what; with `public=True` a child read answers only the kind's
public view (`services.events.public`).
"""
from sqlalchemy import text

from contracts.errors import AccessDenied
from contracts.media.messages import MediaChanged, MediaCopied
from contracts.vocabulary import Permission
from services.events import children, copy, events, media_urls
from services.events.settings import EventsSettings
from shared.actors import Actor
from shared.context import RequestContext
from shared.db import Database
from shared.handlers import consume
from shared.inbox import apply_once
from shared.metrics import Metrics
from shared.permissions import Permissions
from shared.relay import OutboxRelay
from shared.rpc import rpc
from shared.settings import Settings
from shared.tracing import Tracing


class EventsService:
    name = "events"

    db = Database()
    relay = OutboxRelay()
    permissions = Permissions(denied=AccessDenied)
    request_context = RequestContext()
    tracing = Tracing()
    metrics = Metrics()
    actor = Actor()
    settings: EventsSettings = Settings(EventsSettings)

    @rpc
    def create_event(self, data):
        actor_id = self.actor.id
        self.permissions.require_user(actor_id)
        with self.db.transaction() as session:
            return events.create_event(session, actor_id, data)

    @rpc
    def get_event(self, ref):
        with self.db.transaction() as session:
            return events.get_event(session, ref)

    @rpc
    def update_event(self, ref, data):
        actor_id, event_id = self._authorize(Permission.IS_ORGANIZER, events.find_event_id, ref)
        with self.db.transaction() as session:
            return events.update_event(session, event_id, actor_id, data)

    @rpc
    def delete_event(self, ref):
        actor_id, event_id = self._authorize(Permission.IS_OWNER, events.find_event_id, ref)
        with self.db.transaction() as session:
            return events.delete_event(session, event_id, actor_id)

    @rpc
    def create_child(self, ref, kind, data):
        actor_id, event_id = self._authorize(children.powers(kind).write, events.find_event_id,
                                             ref)
        with self.db.transaction() as session:
            return children.create_child(session, event_id, kind, actor_id, data)

    @rpc
    def list_children(self, ref, kind, limit=50, offset=0, public=False):
        with self.db.transaction() as session:
            return children.list_children(session, ref, kind, limit, offset, public)

    @rpc
    def get_child(self, kind, child_id, public=False):
        with self.db.transaction() as session:
            return children.get_child(session, kind, child_id, public)

    @rpc
    def list_events(self, event_ids, state=None, q=None, limit=50, offset=0):
        with self.db.transaction() as session:
            return events.list_events(session, event_ids, state, q, limit, offset)

    @rpc
    def list_public_events(self, q=None, limit=50, offset=0):
        with self.db.transaction() as session:
            return events.list_public_events(session, q, limit, offset)

    @rpc
    def update_child(self, kind, child_id, data):
        """A moderator may change a session's `state`, a registrar an
        attendee's `checked_in`, and nothing else (`contracts.powers`)."""
        changed = data if isinstance(data, dict) else {}
        actor_id, _ = self._authorize(children.powers(kind).to_update(changed),
                                      children.find_event_id, kind, child_id)
        with self.db.transaction() as session:
            return children.update_child(session, kind, child_id, actor_id, data)

    @rpc
    def delete_child(self, kind, child_id):
        actor_id, _ = self._authorize(children.powers(kind).write, children.find_event_id, kind,
                                      child_id)
        with self.db.transaction() as session:
            return children.delete_child(session, kind, child_id, actor_id)

    @rpc
    def copy_event(self, ref, name=None, include=(), idempotency_key=None):
        actor_id, event_id = self._authorize(Permission.IS_COORGANIZER, events.find_event_id, ref)
        with self.db.transaction() as session:
            return copy.copy_event(session, event_id, actor_id, name, include, idempotency_key)

    @rpc(callers=("media",))
    def apply_media_urls(self, event_id, media_version, event_urls, sponsor_urls):
        with self.db.transaction() as session:
            return media_urls.apply(session, event_id, media_version, event_urls, sponsor_urls,
                                    self.settings.PUBLIC_BASE_URL)

    @consume(MediaChanged)
    def on_media_changed(self, message):
        """An event's media as they are now (see `media_urls.on_media_changed`
        for what it checks and what it believes)."""
        apply_once(self.db, self.name, message, lambda session, changed: (
            media_urls.on_media_changed(session, changed, self.settings.PUBLIC_BASE_URL)))

    @consume(MediaCopied)
    def on_media_copied(self, message):
        """The copy's own media URLs (see `media_urls.on_media_copied`)."""
        apply_once(self.db, self.name, message, lambda session, copied: (
            media_urls.on_media_copied(session, copied, self.settings.PUBLIC_BASE_URL)))

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "database": "ok"}

    def _authorize(self, permission, find_event_id, *where):
        """The proven actor and the id of the event `find_event_id(session,
        *where)` finds, once the actor passes `permission` on it. The event
        is read in a short transaction of its own; the roles service is
        asked after it ends."""
        actor_id = self.actor.id
        with self.db.transaction() as session:
            event_id = find_event_id(session, *where)
        self.permissions.require(actor_id, permission, event_id)
        return actor_id, event_id
