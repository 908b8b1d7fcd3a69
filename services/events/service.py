"""The events service: owns events and everything in them, and copies an
event with one call.

RPC methods take and return plain data (ids, strings, JSON-ready dicts);
`ref` is an event's numeric id or its identifier. Each change runs in one
transaction; the messages it announces go out through the outbox.
Bad input raises `InvalidEventData`, a missing object `EventNotFound` /
`ChildNotFound` / `UnknownKind`, a denied actor `AccessDenied`
(services.events.exceptions).

Authorization (defence in depth, behind the gateway's own checks): every
change is authorized against the roles service for its `actor_id`, which
must be a user id (else `InvalidEventData`). The event is found in a short
read, the roles service asked with no transaction open, and the change
made in a transaction of its own. Reads (`get_event`, `list_children`,
`get_child`) take no actor: they are internal reads that other services
rely on, and the gateway decides who may see what.
"""
from sqlalchemy import text

from services.events import children, copy, events, media_urls
from services.events.exceptions import AccessDenied
from services.roles import exceptions as roles_errors  # noqa: F401  (they arrive as themselves)
from shared.context import RequestContext
from shared.db import Database
from shared.handlers import consume
from shared.inbox import apply_once
from shared.messages import MediaChanged, MediaCopied
from shared.permissions import Permissions
from shared.relay import OutboxRelay
from shared.rpc import rpc


class EventsService:
    name = "events"

    db = Database()
    relay = OutboxRelay()
    permissions = Permissions(denied=AccessDenied)
    request_context = RequestContext()

    @rpc
    def create_event(self, actor_id, data):
        """Create an event owned by `actor_id`, who must be a signed-up
        user; emits `event.created`."""
        self.permissions.require_user(events.user_id(actor_id))
        with self.db.transaction() as session:
            return events.create_event(session, actor_id, data)

    @rpc
    def get_event(self, ref):
        with self.db.transaction() as session:
            return events.get_event(session, ref)

    @rpc
    def update_event(self, ref, actor_id, data):
        """Organizer+ (`is_organizer`)."""
        event_id = self._authorize(actor_id, "is_organizer", events.find_event_id, ref)
        with self.db.transaction() as session:
            return events.update_event(session, event_id, actor_id, data)

    @rpc
    def delete_event(self, ref, actor_id):
        """Soft delete, by the owner (`is_owner`); emits `event.deleted`."""
        event_id = self._authorize(actor_id, "is_owner", events.find_event_id, ref)
        with self.db.transaction() as session:
            return events.delete_event(session, event_id, actor_id)

    @rpc
    def create_child(self, ref, kind, actor_id, data):
        """Create a child of `kind` (a URL segment: tracks, sponsors, …);
        organizer+ of the event."""
        event_id = self._authorize(actor_id, "is_organizer", events.find_event_id, ref)
        with self.db.transaction() as session:
            return children.create_child(session, event_id, kind, actor_id, data)

    @rpc
    def list_children(self, ref, kind, limit=50, offset=0):
        """`{items, total, limit, offset}`; limit is 1–200."""
        with self.db.transaction() as session:
            return children.list_children(session, ref, kind, limit, offset)

    @rpc
    def get_child(self, kind, child_id):
        with self.db.transaction() as session:
            return children.get_child(session, kind, child_id)

    @rpc
    def update_child(self, kind, child_id, actor_id, data):
        """Organizer+ of the child's event."""
        self._authorize(actor_id, "is_organizer", children.find_event_id, kind, child_id)
        with self.db.transaction() as session:
            return children.update_child(session, kind, child_id, actor_id, data)

    @rpc
    def delete_child(self, kind, child_id, actor_id):
        """Soft delete, by an organizer+ of the child's event."""
        self._authorize(actor_id, "is_organizer", children.find_event_id, kind, child_id)
        with self.db.transaction() as session:
            return children.delete_child(session, kind, child_id, actor_id)

    @rpc
    def copy_event(self, ref, actor_id, name=None, include=(), idempotency_key=None):
        """Copy the event and its related objects in one transaction.

        Copies taxes, tickets, social links, sponsors, microlocations,
        tracks, speakers calls, discount codes (links remapped to the copied
        tickets), custom forms and session types; with
        `include=["sessions"]` also sessions and speakers. Never orders,
        attendees, access codes or soft-deleted rows. The copy is a draft
        with a new id and identifier and `copied_from_id` set. Emits
        `event.copied` with the old → new sponsor ids. The same
        `idempotency_key` from the same actor returns the first copy.
        Returns `{id, identifier, copied: true, copied_from: {id, identifier}}`.
        The actor must be coorganizer+ of the source (`is_coorganizer`).
        """
        event_id = self._authorize(actor_id, "is_coorganizer", events.find_event_id, ref)
        with self.db.transaction() as session:
            return copy.copy_event(session, event_id, actor_id, name, include, idempotency_key)

    @rpc
    def apply_media_urls(self, event_id, version, event_urls, sponsor_urls):
        """Show the media service's URLs (`event_urls`: field → URL,
        `sponsor_urls`: sponsor id → URL) of media version `version`, unless
        the event shows a newer one; whether it did. The media service calls
        it after each change, and announces the same in `media.changed`."""
        with self.db.transaction() as session:
            return media_urls.apply(session, event_id, version, event_urls, sponsor_urls)

    @consume(MediaChanged)
    def on_media_changed(self, message):
        apply_once(self.db, self.name, message, lambda session, changed: (
            media_urls.apply_message(session, changed, changed.version)))

    @consume(MediaCopied)
    def on_media_copied(self, message):
        """The copy's own media URLs."""
        apply_once(self.db, self.name, message, media_urls.apply_message)

    @rpc
    def health(self):
        """`{"service": "events", "database": "ok"}` or raises Unavailable."""
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "database": "ok"}

    def _authorize(self, actor_id, permission, find_event_id, *where):
        """The id of the event `find_event_id(session, *where)` finds, once
        the actor passes `permission` on it. The event is read in a short
        transaction of its own; the roles service is asked after it ends."""
        actor_id = events.user_id(actor_id)
        with self.db.transaction() as session:
            event_id = find_event_id(session, *where)
        self.permissions.require(actor_id, permission, event_id)
        return event_id
