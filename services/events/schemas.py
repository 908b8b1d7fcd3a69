"""The events service's view of the schemas in `contracts.events.schemas`:
each child kind with its table and link fields, so one generic path serves
them all; the filters of the event lists; and validation that raises this
service's error."""
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from contracts.events.errors import InvalidEventData
from contracts.events.schemas import CHILDREN, MAX_LISTED_EVENTS, EventIn, Id, Short
from services.events import models
from shared.validation import Schema
from shared.validation import validate as shared_validate


def validate(schema, data, what, sent_only=False):
    return shared_validate(schema, data, InvalidEventData, what, sent_only)


@dataclass(frozen=True)
class Link:
    """A list field (`ticket_ids`) stored as rows of a link table."""

    table: object
    owner_column: str
    target_column: str
    target: type


@dataclass(frozen=True)
class Kind:
    model: type
    create: type
    update: type
    links: dict = field(default_factory=dict)


MODELS = {
    "tracks": models.Track, "microlocations": models.Microlocation,
    "sponsors": models.Sponsor, "tickets": models.Ticket, "taxes": models.Tax,
    "social-links": models.SocialLink, "speakers-calls": models.SpeakersCall,
    "discount-codes": models.DiscountCode, "custom-forms": models.CustomForm,
    "session-types": models.SessionType, "sessions": models.Session,
    "speakers": models.Speaker, "orders": models.Order, "attendees": models.Attendee,
    "access-codes": models.AccessCode,
}
LINKS = {
    "discount-codes": {"ticket_ids": Link(models.discount_code_tickets, "discount_code_id",
                                          "ticket_id", models.Ticket)},
    "sessions": {"speaker_ids": Link(models.session_speakers, "session_id", "speaker_id",
                                     models.Speaker)},
    "access-codes": {"ticket_ids": Link(models.access_code_tickets, "access_code_id",
                                        "ticket_id", models.Ticket)},
}
KINDS = {kind: Kind(MODELS[kind], schemas.create, schemas.update, LINKS.get(kind, {}))
         for kind, schemas in CHILDREN.items()}


class EventSearch(Schema):
    """`list_public_events`' filter: a piece of the name (its window is
    checked apart, by `shared.validation.page`)."""

    q: Short | None = None


class EventFilter(EventSearch):
    """`list_events`' filters: the ids to list among, and a state."""

    event_ids: Annotated[list[Id], Field(max_length=MAX_LISTED_EVENTS)]
    state: EventIn.model_fields["state"].annotation | None = None
