"""The media service: event and sponsor images, stored content-addressed,
duplicated (records only, never bytes) when an event is copied, and
retired when their event or sponsor is deleted.

Its RPC methods, their answers and errors are `contracts.media.rpc`; the
messages it publishes `contracts.media.messages`. Image bytes travel in
base64.
Uploads are checked by decoding (JPEG, PNG, WebP, GIF), stripped of
metadata, and an event's `original` gets its renditions (large 1300×500,
thumbnail 500×200, icon 75×30). Replacing or deleting an image, or
deleting its event or sponsor (`event.deleted`, `sponsor.deleted`), retires
its record: its URL stops serving at once. Only a published public event's
media may be cached anywhere for good (`event.visibility_changed`,
`lifecycle.cache_control`).

Read-your-writes: a change commits its records and `media.changed` (the
event's media as they are now, numbered) in one transaction, then hands the
same to the events service (`events.apply_media_urls`) before answering,
so the next read of the event shows them (`event_updated` says it did; if
not, the events service's handler of `media.changed` catches up). The
events service never calls back: a busy media service cannot starve it.

Authorization (defence in depth, behind the gateway's own checks): a
change needs the actor the call proves (`shared.actors`) to be an
organizer+ of the event the image belongs to (a sponsor's: the sponsor's
event), as the roles service decides; else `AccessDenied`. The event is
found through `events.get_event` / `get_child` and the roles service asked
before any transaction opens, and before an upload is decoded.
`list_event_media`, `read_media` and `health` take no actor: media URLs
are unguessable, served to anyone who has them.
"""
import logging

from sqlalchemy import text

from contracts.errors import AccessDenied, EventNotFound
from contracts.events.errors import ChildNotFound
from contracts.events.messages import (
    EventCopied,
    EventDeleted,
    EventVisibilityChanged,
    SponsorDeleted,
)
from contracts.media.errors import ImagesBusy, InvalidMediaData, SponsorNotFound, UnknownSlot
from contracts.vocabulary import RENDITION_SLOTS, UPLOAD_SLOTS, Permission
from services.media import copies, lifecycle, media, uploads
from services.media.media import Owner
from services.media.settings import MediaSettings
from services.media.storage import Storage
from services.media.uploads import Decoding
from shared.actors import Actor
from shared.context import RequestContext
from shared.db import Database
from shared.errors import Unavailable
from shared.handlers import consume
from shared.ids import as_id
from shared.inbox import apply_once
from shared.metrics import Metrics
from shared.permissions import Permissions
from shared.relay import OutboxRelay
from shared.rpc import Rpc, rpc
from shared.settings import Settings
from shared.tracing import Tracing

log = logging.getLogger(__name__)


class MediaService:
    name = "media"

    db = Database()
    relay = OutboxRelay()
    storage = Storage()
    decoder = Decoding()
    events = Rpc("events")
    permissions = Permissions(denied=AccessDenied)
    request_context = RequestContext()
    tracing = Tracing()
    metrics = Metrics()
    actor = Actor()
    settings: MediaSettings = Settings(MediaSettings)

    @rpc(expected_exceptions=ImagesBusy)  # a refusal in a flood: a warning
    def upload_event_image(self, event_ref, slot, content):
        actor_id = self.actor.id
        owner = self._authorized(actor_id, self._event_owner(event_ref))
        return self._change(owner, uploads.event_images(slot, content, self.decoder))

    @rpc(expected_exceptions=ImagesBusy)
    def upload_sponsor_logo(self, sponsor_id, content):
        actor_id = self.actor.id
        owner = self._authorized(actor_id, self._sponsor_owner(sponsor_id))
        return self._change(owner, uploads.sponsor_images(content, self.decoder))

    @rpc
    def delete_event_image(self, event_ref, slot):
        actor_id = self.actor.id
        if slot not in UPLOAD_SLOTS:
            raise UnknownSlot(f"no image slot {slot!r}")
        slots = ("original", *RENDITION_SLOTS) if slot == "original" else (slot,)
        owner = self._authorized(actor_id, self._event_owner(event_ref))
        return self._change(owner, dict.fromkeys(slots))

    @rpc
    def delete_sponsor_logo(self, sponsor_id):
        actor_id = self.actor.id
        owner = self._authorized(actor_id, self._sponsor_owner(sponsor_id))
        return self._change(owner, {"logo": None})

    @rpc
    def list_event_media(self, event_id):
        if as_id(event_id) is None:
            raise InvalidMediaData(f"event_id must be an event id, not {event_id!r}")
        with self.db.transaction() as session:
            return media.event_media(session, as_id(event_id), self._base_url)

    @rpc
    def read_media(self, key, if_none_match=None):
        with self.db.transaction() as session:
            record = media.find_live(session, key)
            headers = {"etag": media.etag(record.blob_key),
                       "cache_control": lifecycle.cache_control(session, record.event_id)}
            if if_none_match == headers["etag"]:
                return {"not_modified": True, **headers}
            return {**headers, "content_type": record.content_type, "size": record.size,
                    "content": uploads.encoded(self.storage.open(record.blob_key))}

    @consume(EventCopied)
    def on_event_copied(self, message):
        """The copy's own records, sharing the source's blobs; emits
        `media.copied`. What it checks of the message against this
        service's records, and what it believes: `copies.copy_media`."""
        apply_once(self.db, self.name, message,
                   lambda session, copied: copies.copy_media(session, copied, self._base_url))

    @consume(EventDeleted)
    def on_event_deleted(self, message):
        """Retire the event's and its sponsors' media
        (`lifecycle.on_event_deleted`)."""
        apply_once(self.db, self.name, message, lifecycle.on_event_deleted)

    @consume(SponsorDeleted)
    def on_sponsor_deleted(self, message):
        """Retire the sponsor's logo (`lifecycle.on_sponsor_deleted`)."""
        apply_once(self.db, self.name, message, lambda session, deleted: (
            lifecycle.on_sponsor_deleted(session, deleted, self._base_url)))

    @consume(EventVisibilityChanged)
    def on_event_visibility_changed(self, message):
        """Whether the event's media may be cached for good
        (`lifecycle.on_visibility_changed`)."""
        apply_once(self.db, self.name, message, lifecycle.on_visibility_changed)

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "database": "ok"}

    def _change(self, owner, by_slot):
        """Replace the owner's images in these slots (None: retire only),
        announce it, and have the events service show it."""
        uploaded = {slot: image for slot, image in by_slot.items() if image is not None}
        with self.db.transaction() as session:
            version = media.next_version(session, owner.event_id)
            lifecycle.require_live(session, owner)
            media.retire(session, owner, by_slot)
            records = media.add(session, self.storage, owner, uploaded)
            changed = media.announce_change(session, owner.event_id, version, self._base_url)
            stored = [media.serialize_media(record, self._base_url) for record in records.values()]
        return {"event_id": owner.event_id, "media": stored,
                "event_updated": self._show(changed)}

    def _show(self, changed):
        """Have the events service show the change now (read-your-writes);
        if it cannot, its handler of `media.changed` will."""
        try:
            self.events.apply_media_urls(changed.event_id, changed.media_version,
                                         changed.event_urls, changed.sponsor_urls)
            return True
        except Unavailable:
            log.warning("event %s: URLs not shown yet; media.changed will", changed.event_id)
            return False
        except EventNotFound:  # deleted meanwhile: nothing shows its URLs
            return False

    def _authorized(self, actor_id, owner):
        """The owner, once the actor passes `is_organizer` on its event."""
        self.permissions.require(actor_id, Permission.IS_ORGANIZER, owner.event_id)
        return owner

    def _event_owner(self, event_ref):
        event_id = self.events.get_event(event_ref)["id"]
        return Owner(event_id=event_id, kind="event", id=event_id)

    def _sponsor_owner(self, sponsor_id):
        try:
            sponsor = self.events.get_child("sponsors", sponsor_id)
        except ChildNotFound:
            raise SponsorNotFound(f"no sponsor {sponsor_id!r}") from None
        return Owner(event_id=sponsor["event_id"], kind="sponsor", id=sponsor["id"])

    @property
    def _base_url(self):
        return self.settings.PUBLIC_BASE_URL
