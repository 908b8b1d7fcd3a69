"""The URL fields of an event and its sponsors, as the media service has
them now: it owns the images, the events service shows their URLs.

Refreshing reads the media service's current answer while holding the
event's row lock, so refreshes of one event take turns and the last one
writes the newest state, whatever order the triggers arrive in.
"""
from sqlalchemy import select

from services.events.events import find_event
from services.events.exceptions import EventNotFound
from services.events.models import Sponsor
from shared.ids import as_id

EVENT_URL_FIELDS = ("logo_url", "original_image_url", "large_image_url",
                    "thumbnail_image_url", "icon_image_url")


def refresh(session, ref, list_event_media):
    """Set the event's and its live sponsors' URL fields from
    `list_event_media(event_id)`; a field without media becomes null."""
    event = find_event(session, ref, lock="update")
    current = list_event_media(event.id)
    for field in EVENT_URL_FIELDS:
        setattr(event, field, current["event_urls"].get(field))
    sponsor_urls = {as_id(sponsor_id): url for sponsor_id, url in current["sponsor_urls"].items()}
    sponsors = session.scalars(
        select(Sponsor).where(Sponsor.event_id == event.id, Sponsor.deleted_at.is_(None))
    )
    for sponsor in sponsors:
        sponsor.logo_url = sponsor_urls.get(sponsor.id)
    return {"id": event.id, **{field: getattr(event, field) for field in EVENT_URL_FIELDS}}


def refresh_if_live(session, event_id, list_event_media):
    """As `refresh`, for a message: an event deleted since has nothing to show."""
    try:
        refresh(session, event_id, list_event_media)
    except EventNotFound:
        pass
