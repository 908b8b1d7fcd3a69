"""What the gateway's routes take and answer, as pydantic models.

Request bodies are the services' own schemas (contracts.*.schemas) wherever
a service takes the same data; the few here are the gateway's own.
Answers are described by `resource()` models derived from the input schemas,
so the OpenAPI document shows the fields a client sends and gets back.
"""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from contracts.events.schemas import CHILDREN as CHILD_SCHEMAS
from contracts.events.schemas import EventIn, Name
from contracts.roles.schemas import Email
from contracts.vocabulary import EVENT_IMAGE_FIELDS, ROLES
from shared.validation import Schema


class CopyRequest(Schema):
    """`POST /v1/events/{event}/copy`: the copy's name (default: the
    source's) and the optional kinds it also copies."""

    name: Name | None = None
    include: list[Literal["sessions"]] = []


class Open(BaseModel):
    """An answer: it may carry more fields than it lists."""

    model_config = ConfigDict(extra="allow")


def resource(schema, title, read_only):
    """An answer model: every field of `schema` (none required), plus the
    `read_only` ones (name → type), which are."""
    fields = {name: (info.annotation | None, None) for name, info in schema.model_fields.items()}
    fields.update({name: (annotation, ...) for name, annotation in read_only.items()})
    return create_model(title, __base__=Open, **fields)


EventOut = resource(EventIn, "Event", {
    "id": int, "identifier": str, "created_at": str, "copied_from_id": int | None,
    **dict.fromkeys(EVENT_IMAGE_FIELDS.values(), str | None),
})
CHILDREN = {kind: resource(spec.create, spec.create.__name__.removesuffix("In"),
                           {"id": int, "event_id": int, "created_at": str})
            for kind, spec in CHILD_SCHEMAS.items()}


class User(Open):
    id: int
    email: str
    name: str
    is_admin: bool
    created_at: str


class Token(Open):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class CopyResult(Open):
    id: int
    identifier: str
    copied: Literal[True]
    copied_from: dict


class Invite(Open):
    id: int
    event_id: int
    email: str
    role: Literal[ROLES]
    status: Literal["pending", "accepted", "declined", "expired"]
    expires_at: str


class InviteCreated(Invite):
    token: str = Field(description="the accept token, given this once (it would be emailed)")
    accept_path: str


class TeamMember(Open):
    user_id: int
    email: Email
    role: Literal[ROLES]


class MediaRecord(Open):
    id: int
    slot: str
    url: str
    content_type: str
    size: int


class MediaChange(Open):
    event_id: int
    media: list[MediaRecord]


class Health(Open):
    status: Literal["ok", "unavailable"]
    services: dict


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str


def page_of(item):
    """A list answer: `{items, total, limit, offset}`."""
    return create_model(f"{item.__name__}Page", __base__=Open, items=(list[item], ...),
                        total=(int, ...), limit=(int, ...), offset=(int, ...))

