"""What only the gateway's routes answer, as pydantic models; what the
services take and answer is in their contracts (contracts.*.schemas)."""
from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel, StringConstraints, create_model

from contracts.events.schemas import EventOut
from contracts.roles.schemas import RoleName
from shared.validation import Answer, Page


class Token(Answer):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class Health(Answer):
    status: Literal["ok", "unavailable"]
    services: dict | None = Field(None, description="each service's state; to an admin only")


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str


class EventsQuery(Page):
    """`GET /v1/events`: mine (filters `role`, `state`, `q`), or with
    `public=true` the published public events (filter `q`)."""

    public: bool = False
    role: RoleName | None = None
    state: Literal["draft", "published"] | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


MyEvent = create_model("MyEvent", __base__=EventOut, my_role=(RoleName, ...))


def team_or_public(team, public, name):
    """An answer that is `team` for the event's team and `public` (its
    public view) for anyone else."""
    return type(name, (RootModel[team | public],),
                {"__doc__": "the team's view, or for anyone else the public view"})
