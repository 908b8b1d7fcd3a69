"""The public view of an event's children: what anyone may see of them.

`contracts.events.schemas.PUBLIC_VIEWS` names the kinds that have one (no
other kind does), the rows of each in words, and the fields of its answer.
Here are those rows as SQL conditions, so that a public list's `total` and
pages count only what it shows, and the answers cut to those fields (a
speaker's email is never one). Whether the event itself may be seen
(published and public, or the reader on its team) is the caller's
decision, not this module's.
"""
from sqlalchemy import exists, or_, true

from contracts.events.errors import InvalidEventData
from contracts.events.schemas import PUBLIC_SESSION_STATES, PUBLIC_VIEWS
from services.events.models import Session, Speaker, SpeakersCall, session_speakers


def _public_session(session):
    return session.state.in_(PUBLIC_SESSION_STATES)


# the kinds not every live row of which is public ("shown" in PUBLIC_VIEWS)
SHOWN = {
    "sessions": lambda: _public_session(Session),
    "speakers": lambda: exists().where(
        session_speakers.c.speaker_id == Speaker.id,
        Session.id == session_speakers.c.session_id,
        Session.event_id == Speaker.event_id,
        Session.deleted_at.is_(None),
        _public_session(Session),
    ),
    "speakers-calls": lambda: or_(SpeakersCall.privacy.is_(None),
                                  SpeakersCall.privacy != "private"),
}


def has_view(kind):
    return kind in PUBLIC_VIEWS


def shown(kind):
    """The SQL condition a live row of `kind` meets when it is in the kind's
    public view; InvalidEventData for a kind that has none."""
    if not has_view(kind):
        raise InvalidEventData(f"{kind} have no public view; the kinds that have one are:"
                               f" {', '.join(PUBLIC_VIEWS)}")
    return SHOWN[kind]() if kind in SHOWN else true()


def answer(kind, item):
    """The serialized row `item` with only the fields of its public answer."""
    fields = PUBLIC_VIEWS[kind].answer.model_fields
    return {name: value for name, value in item.items() if name in fields}


def is_public(public):
    """The `public` flag of a read, which must be a bool (else InvalidEventData)."""
    if not isinstance(public, bool):
        raise InvalidEventData(f"public must be true or false, not {public!r}")
    return public
