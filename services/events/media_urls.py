"""The URL fields of an event and its sponsors, as the media service
announces them: it owns the images, the events service shows their URLs.

Each change of an event's media has a version (the media service numbers
them in commit order) and carries the whole state: `apply` writes it only
if it is newer than what the event shows, so the order in which the direct
call and the messages arrive does not matter. `media.copied` carries no
version: it fills a copy that has seen no versioned change yet.
"""
from sqlalchemy import select

from contracts.errors import EventNotFound
from contracts.events.errors import InvalidEventData
from contracts.vocabulary import EVENT_IMAGE_FIELDS, SPONSOR_LOGO_FIELD
from services.events.events import find_event
from services.events.models import Sponsor
from shared.ids import as_id

EVENT_URL_FIELDS = tuple(EVENT_IMAGE_FIELDS.values())


def apply(session, event_id, version, event_urls, sponsor_urls):
    """Write the URLs (fields without media become null) unless the event
    shows a newer version already; whether they were written."""
    _check(version, event_urls, sponsor_urls)
    version = version and as_id(version)
    event = find_event(session, event_id, lock="update")
    if version is None:
        if event.media_version:
            return False
    elif version <= event.media_version:
        return False
    else:
        event.media_version = version
    for field in EVENT_URL_FIELDS:
        setattr(event, field, event_urls.get(field))
    urls = {as_id(sponsor_id): url for sponsor_id, url in sponsor_urls.items()}
    sponsors = session.scalars(
        select(Sponsor).where(Sponsor.event_id == event.id, Sponsor.deleted_at.is_(None))
    )
    for sponsor in sponsors:
        setattr(sponsor, SPONSOR_LOGO_FIELD, urls.get(sponsor.id))
    return True


def _check(version, event_urls, sponsor_urls):
    if version is not None and as_id(version) is None:
        raise InvalidEventData(f"version must be a positive integer, not {version!r}")
    for urls in (event_urls, sponsor_urls):
        if not isinstance(urls, dict) or not all(isinstance(url, str) for url in urls.values()):
            raise InvalidEventData(f"URLs must be an object of strings, not {urls!r}")
    unknown = set(event_urls) - set(EVENT_URL_FIELDS)
    if unknown:
        raise InvalidEventData(f"no URL field(s) {', '.join(sorted(unknown))}")


def apply_message(session, message, version=None):
    """`apply` for a media.changed / media.copied message; an event deleted
    since has nothing to show."""
    try:
        apply(session, message.event_id, version, message.event_urls, message.sponsor_urls)
    except EventNotFound:
        pass
