"""What callers send the events service: the event and every child kind.

A create schema lists a kind's writable fields (required ones have no
default); `partial(schema)` derives its update schema, where every field is
optional and only the fields sent are applied. Unknown and read-only fields
are refused. `CHILDREN` maps each child kind's URL segment to its create
and update schemas.
"""
import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.vocabulary import CHILD_KINDS, EVENT_IMAGE_FIELDS, SPONSOR_LOGO_FIELD
from shared.ids import MAX_ID
from shared.validation import Answer, answer_of
from shared.validation import Schema as BaseSchema

MAX_INT = 2**31 - 1  # PostgreSQL integer
CENT = Decimal("0.01")


def _aware_iso_time(value):
    """An ISO 8601 string (or datetime) with a UTC offset, as a UTC datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("iso_time", "must be an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise PydanticCustomError("iso_time", "must be an ISO 8601 time")
    if value.utcoffset() is None:
        raise PydanticCustomError("naive_time", "must carry a UTC offset, e.g. +00:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("iso_time", "is out of range") from None


def _decimal_string(value):
    if isinstance(value, float | bool):
        raise PydanticCustomError("money", 'must be a decimal string, e.g. "12.50"')
    return value


def _cents(value):
    """Two decimal places, as the database stores it: 12.5 -> 12.50."""
    return value.quantize(CENT)


def _known_timezone(name):
    if name not in _timezones():
        raise PydanticCustomError("timezone", "must be an IANA time zone, e.g. Europe/Berlin")
    return name


@cache
def _timezones():
    return frozenset(available_timezones()) | {"UTC"}


def _http_url(value):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", "must be an http or https URL")
    return value


def _email(value):
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain.strip(".")) or " " in value:
        raise PydanticCustomError("email", "must be an email address")
    return value


def _shaped(pattern, shape):
    """A string validator: it must match `pattern`, else "must be `shape`"."""
    compiled = re.compile(pattern)

    def check(value):
        if not compiled.fullmatch(value):
            raise PydanticCustomError("shape", "must be {shape}", {"shape": shape})
        return value

    return AfterValidator(check)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Text = str
Time = Annotated[AwareDatetime, BeforeValidator(_aware_iso_time)]
Money = Annotated[
    Decimal, BeforeValidator(_decimal_string), Field(ge=0, max_digits=12, decimal_places=2),
    AfterValidator(_cents),
]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Integer = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000),
                AfterValidator(_http_url)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255),
                  AfterValidator(_email)]
Color = Annotated[str, _shaped(r"#[0-9A-Fa-f]{6}", "#RRGGBB (hex)")]
Length = Annotated[str, _shaped(r"\d{2}:[0-5]\d", "HH:MM")]
Timezone = Annotated[str, AfterValidator(_known_timezone)]
Privacy = Literal["public", "private"]
SessionState = Literal["draft", "submitted", "accepted", "confirmed", "rejected", "withdrawn"]


class Schema(BaseSchema):
    """Refuses read-only fields with a message saying so. `ordered` pairs
    (start, end) must have end after start when both are set."""

    read_only: ClassVar[frozenset] = frozenset({"id", "created_at"})
    ordered: ClassVar[tuple] = ()

    @model_validator(mode="before")
    @classmethod
    def _refuse_read_only(cls, data):
        if isinstance(data, dict):
            sent = sorted(cls.read_only.intersection(data))
            if sent:
                raise PydanticCustomError(
                    "read_only", "read-only field(s): {fields}", {"fields": ", ".join(sent)}
                )
        return data

    @model_validator(mode="after")
    def _ends_after_starts(self):
        for start, end in self.ordered:
            starts, ends = getattr(self, start), getattr(self, end)
            if starts is not None and ends is not None and ends <= starts:
                raise PydanticCustomError("order", "{end} must be after {start}",
                                          {"start": start, "end": end})
        return self


class ChildSchema(Schema):
    read_only = Schema.read_only | {"event_id"}


class EventIn(Schema):
    read_only = Schema.read_only | {"identifier", "owner_id", "copied_from_id",
                                    *EVENT_IMAGE_FIELDS.values()}
    ordered = (("starts_at", "ends_at"),)

    name: Name
    starts_at: Time
    ends_at: Time
    timezone: Timezone = "UTC"
    description: Text | None = None
    location_name: Short | None = None
    state: Literal["draft", "published"] = "draft"
    privacy: Privacy = "public"


class TrackIn(ChildSchema):
    name: Name
    color: Color
    description: Text | None = None


class MicrolocationIn(ChildSchema):
    name: Name
    floor: Integer | None = None
    room: Short | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


class SponsorIn(ChildSchema):
    read_only = ChildSchema.read_only | {SPONSOR_LOGO_FIELD}

    name: Name
    url: Url | None = None
    level: Integer | None = None
    type: Short | None = None
    description: Text | None = None


class TicketIn(ChildSchema):
    ordered = (("sales_starts_at", "sales_ends_at"),)

    name: Name
    type: Literal["free", "paid", "donation"]
    price: Money | None = None
    quantity: Count | None = None
    sales_starts_at: Time | None = None
    sales_ends_at: Time | None = None
    description: Text | None = None


class TaxIn(ChildSchema):
    name: Name
    rate: Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2),
                    AfterValidator(_cents)]
    tax_id: Short | None = None
    is_tax_included_in_price: bool = False


class SocialLinkIn(ChildSchema):
    name: Name
    link: Url


class SpeakersCallIn(ChildSchema):
    ordered = (("starts_at", "ends_at"),)

    announcement: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    starts_at: Time
    ends_at: Time | None = None
    privacy: Privacy | None = None


class DiscountCodeIn(ChildSchema):
    ordered = (("valid_from", "valid_till"),)

    code: Name
    type: Literal["amount", "percent"]
    value: Money
    ticket_ids: list[Id] = []
    tickets_number: Count | None = None
    valid_from: Time | None = None
    valid_till: Time | None = None

    @model_validator(mode="after")
    def _percent_at_most_100(self):
        if self.type == "percent" and self.value is not None and self.value > 100:
            raise PydanticCustomError("percent", "a percent discount is at most 100")
        return self


class CustomFormIn(ChildSchema):
    form: Literal["attendee", "speaker", "session"]
    field_identifier: Name
    type: Literal["text", "paragraph", "email", "number", "select", "checkbox", "date",
                  "url", "phone", "image", "file"]
    is_required: bool = False
    is_included: bool = False


class SessionTypeIn(ChildSchema):
    name: Name
    length: Length | None = None


class SessionIn(ChildSchema):
    ordered = (("starts_at", "ends_at"),)

    title: Name
    track_id: Id | None = None
    microlocation_id: Id | None = None
    session_type_id: Id | None = None
    speaker_ids: list[Id] = []
    starts_at: Time | None = None
    ends_at: Time | None = None
    state: SessionState | None = None


class SpeakerIn(ChildSchema):
    name: Name
    email: Email | None = None
    bio: Text | None = None
    organisation: Short | None = None


class OrderIn(ChildSchema):
    status: Literal["initializing", "pending", "completed", "cancelled", "expired"] = (
        "initializing"
    )
    amount: Money | None = None
    buyer_email: Email | None = None


class AttendeeIn(ChildSchema):
    read_only = ChildSchema.read_only | {"checked_in_at"}

    firstname: Name
    lastname: Short | None = None
    email: Email | None = None
    ticket_id: Id
    order_id: Id | None = None
    checked_in: bool = False  # `checked_in_at` says when (the service sets it)


class AccessCodeIn(ChildSchema):
    ordered = (("valid_from", "valid_till"),)

    code: Name
    ticket_ids: list[Id] = []
    tickets_number: Count | None = None
    valid_from: Time | None = None
    valid_till: Time | None = None


def partial(schema):
    """The update schema of `schema`: every field optional (absent = unchanged),
    but a field that refuses null on create refuses it here too."""
    fields = {}
    for name, info in schema.model_fields.items():
        info = copy.copy(info)
        info.default, info.default_factory = None, None
        fields[name] = (info.annotation, info)
    return create_model(f"{schema.__name__}Update", __base__=schema, **fields)


EventUpdate = partial(EventIn)


# the read-only fields of a kind's answer beyond id, event_id, created_at
_SET_BY_THE_SERVICES = {SponsorIn: {SPONSOR_LOGO_FIELD: str | None},
                        AttendeeIn: {"checked_in_at": str | None}}


@dataclass(frozen=True)
class ChildSchemas:
    create: type
    update: type
    answer: type


def _child_schemas(create):
    answer = answer_of(create, create.__name__.removesuffix("In"),
                       {"id": int, "event_id": int, "created_at": str,
                        **_SET_BY_THE_SERVICES.get(create, {})})
    return ChildSchemas(create, partial(create), answer)


_CREATE = (TrackIn, MicrolocationIn, SponsorIn, TicketIn, TaxIn, SocialLinkIn, SpeakersCallIn,
           DiscountCodeIn, CustomFormIn, SessionTypeIn, SessionIn, SpeakerIn, OrderIn,
           AttendeeIn, AccessCodeIn)  # in the order of CHILD_KINDS
CHILDREN = {kind: _child_schemas(create)
            for kind, create in zip(CHILD_KINDS, _CREATE, strict=True)}

# what anyone may see of a published, public event's children: the kinds
# (no other kind is public), the rows of each (`shown`, which the events
# service filters on) and their fields (`answer`: no one's email)


@dataclass(frozen=True)
class PublicView:
    shown: str
    answer: type


def _public(kind, shown="all", hidden=()):
    answer = CHILDREN[kind].answer
    fields = {name: (info.annotation, info) for name, info in answer.model_fields.items()
              if name not in hidden}
    title = f"Public{answer.__name__}"
    return PublicView(shown, create_model(title, __base__=Answer, **fields))


PUBLIC_VIEWS = {
    "tracks": _public("tracks"),
    "microlocations": _public("microlocations"),
    "sponsors": _public("sponsors"),
    "tickets": _public("tickets"),
    "social-links": _public("social-links"),
    "speakers-calls": _public("speakers-calls", "those not private"),
    "session-types": _public("session-types"),
    "sessions": _public("sessions", "those accepted or confirmed"),
    "speakers": _public("speakers", "the speakers of accepted or confirmed sessions",
                        hidden=("email",)),
}
PUBLIC_SESSION_STATES = ("accepted", "confirmed")
MAX_LISTED_EVENTS = 10_000  # event ids one `list_events` call takes

# answers

EventOut = answer_of(EventIn, "Event", {
    "id": int, "identifier": str, "created_at": str, "copied_from_id": int | None,
    **dict.fromkeys(EVENT_IMAGE_FIELDS.values(), str | None),
})


class CopyRequest(BaseSchema):
    """What a copy may ask for: the copy's name (default: the source's) and
    the optional kinds it also copies."""

    name: Name | None = None
    include: list[Literal["sessions"]] = []


class CopyResult(Answer):
    id: int
    identifier: str
    copied: Literal[True]
    copied_from: dict
