"""The media service over RPC (`Rpc("media")`): event and sponsor images,
stored content-addressed, duplicated (records only) when an event is copied.

Image bytes travel in base64. A change needs the actor the call proves
(`shared.actors`; `ActorNotProven` without one) to be an organizer+ of the
image's event; reads take no actor (media URLs are unguessable,
served to anyone who has them). Every method may raise `Unavailable`.
A media record is `{id, slot, url, content_type, size, …}`.
"""
from typing import Any, Protocol

Json = dict[str, Any]


class MediaRpc(Protocol):
    def upload_event_image(self, event_ref: int | str, slot: str,
                           content: str) -> Json:
        """Store `content` (base64) as the event's `slot` image (`original`,
        which also makes the renditions, or `logo`), replacing what was
        there. `{event_id, media: [record], event_updated}`.

        Raises: InvalidMediaData, UnknownSlot, InvalidImage, ImageTooLarge,
        ImagesBusy (too many uploads being decoded: try again shortly),
        EventNotFound, AccessDenied."""

    def upload_sponsor_logo(self, sponsor_id: int, content: str) -> Json:
        """Store `content` (base64) as the sponsor's logo; answers as above.

        Raises: InvalidMediaData, InvalidImage, ImageTooLarge, ImagesBusy,
        SponsorNotFound, AccessDenied."""

    def delete_event_image(self, event_ref: int | str, slot: str) -> Json:
        """Retire the event's `slot` image (`original` with its renditions).

        Raises: InvalidMediaData, UnknownSlot, EventNotFound, AccessDenied."""

    def delete_sponsor_logo(self, sponsor_id: int) -> Json:
        """Retire the sponsor's logo.

        Raises: InvalidMediaData, SponsorNotFound, AccessDenied."""

    def list_event_media(self, event_id: int) -> Json:
        """The event's live media: `{event_id, event_urls (field → URL),
        sponsor_urls (sponsor id → URL), media: [record]}`.

        Raises: InvalidMediaData."""

    def read_media(self, key: str, if_none_match: str | None = None) -> Json:
        """The bytes served at `/media/{key}`: `{content_type, etag,
        cache_control, size, content (base64)}`, or `{not_modified: true,
        etag, cache_control}` when `if_none_match` is its ETag.
        `cache_control` is `public, max-age=31536000, immutable` for a
        published public event's media, else `private, no-cache`.

        Raises: MediaNotFound (an unknown, retired or malformed key)."""

    def health(self) -> Json:
        """`{"service": "media", "database": "ok"}`.

        Raises: Unavailable."""
