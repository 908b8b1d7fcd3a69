"""The URL fields of an event and its sponsors, as the media service
announces them: it owns the images, the events service shows their URLs.

Each change of an event's media has a version (the media service numbers
them in commit order) and carries the whole state: `apply` writes it only
if it is newer than what the event shows, so the order in which the direct
call and the messages arrive does not matter. `media.copied` carries no
version: it fills a copy that has seen no versioned change yet.

Every URL written is a media URL on this service's own `PUBLIC_BASE_URL`
(`contracts.media.urls`), whoever sends it: neither a call nor a message
can make an event show an image from elsewhere.
"""
from sqlalchemy import select

from contracts.errors import EventNotFound
from contracts.events.errors import InvalidEventData
from contracts.media.urls import is_media_url
from contracts.vocabulary import EVENT_IMAGE_FIELDS, SPONSOR_LOGO_FIELD
from services.events.events import changed, find_event
from services.events.models import Sponsor
from shared.ids import as_id
from shared.messages import ForgedMessage

EVENT_URL_FIELDS = tuple(EVENT_IMAGE_FIELDS.values())


def apply(session, event_id, version, event_urls, sponsor_urls, base_url):
    """Write the URLs (fields without media become null) unless the event
    shows a newer version already; whether they were written. Each URL must
    be a media URL on `base_url` (else InvalidEventData)."""
    _check(version, event_urls, sponsor_urls, base_url)
    version = version and as_id(version)
    event = find_event(session, event_id, lock="update")
    if version is None:
        if event.media_version:
            return False
    elif version <= event.media_version:
        return False
    else:
        event.media_version = version
    changed(session, event.id)
    for field in EVENT_URL_FIELDS:
        setattr(event, field, event_urls.get(field))
    urls = {as_id(sponsor_id): url for sponsor_id, url in sponsor_urls.items()}
    sponsors = session.scalars(
        select(Sponsor).where(Sponsor.event_id == event.id, Sponsor.deleted_at.is_(None))
    )
    for sponsor in sponsors:
        setattr(sponsor, SPONSOR_LOGO_FIELD, urls.get(sponsor.id))
    return True


def _check(version, event_urls, sponsor_urls, base_url):
    if version is not None and as_id(version) is None:
        raise InvalidEventData(f"version must be a positive integer, not {version!r}")
    for urls in (event_urls, sponsor_urls):
        if not isinstance(urls, dict) or not all(isinstance(url, str) for url in urls.values()):
            raise InvalidEventData(f"URLs must be an object of strings, not {urls!r}")
    unknown = set(event_urls) - set(EVENT_URL_FIELDS)
    if unknown:
        raise InvalidEventData(f"no URL field(s) {', '.join(sorted(unknown))}")
    foreign = [url for url in [*event_urls.values(), *sponsor_urls.values()]
               if not is_media_url(url, base_url)]
    if foreign:
        raise InvalidEventData(f"not a media URL of {base_url}: {foreign[0]!r}")


def on_media_changed(session, message, base_url):
    """Show the event's media as `media.changed` says they are now.

    Checked: every URL is a media URL on this service's base and every
    field an event URL field (else ForgedMessage); a version no newer than
    the event shows changes nothing, so a replay changes nothing; sponsors
    not of this event are ignored; a deleted event shows nothing. Believed
    on the sender's word: which live media are the event's now (the media
    service owns them; nothing here can tell) – a forged message could
    still show another event's media key, or hold the URLs with a far
    future version, which only the broker's sender check prevents.
    """
    _apply_message(session, message, message.media_version, base_url)


def on_media_copied(session, message, base_url):
    """Show a copy's own media, from `media.copied`.

    Checked: the event is a copy of the message's source (its
    `copied_from_id`, which this service set when it copied it; else
    ForgedMessage); the URLs as `on_media_changed`. A copy that has
    shown a versioned change already keeps it, so a replay changes nothing.
    """
    try:
        copied_from_id = find_event(session, message.event_id).copied_from_id
    except EventNotFound:
        return  # deleted since: nothing shows its URLs
    if copied_from_id != message.source_event_id:
        raise ForgedMessage(f"event {message.event_id} is not a copy of event"
                            f" {message.source_event_id}")
    _apply_message(session, message, None, base_url)


def _apply_message(session, message, version, base_url):
    """`apply` for a message: URLs it may not write are a forged claim; an
    event deleted since has nothing to show."""
    try:
        apply(session, message.event_id, version, message.event_urls, message.sponsor_urls,
              base_url)
    except EventNotFound:
        pass
    except InvalidEventData as exc:
        raise ForgedMessage(f"{message.event_type} refused: {exc.detail}") from None
