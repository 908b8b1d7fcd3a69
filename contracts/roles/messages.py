"""What the roles service publishes (on its nameko event exchange, the
type's `event_type` as routing key); see shared.messages for the base."""
from pydantic import AwareDatetime

from shared.messages import Message


class InviteAccepted(Message):
    """The invitee accepted; the roles service grants the role on this."""

    source = "roles"
    event_type = "invite.accepted"

    invite_id: int
    event_id: int
    user_id: int
    email: str
    role: str


class InviteCreated(Message):
    """An invite was made; what a mail sender needs. It carries no token:
    the invite's accept link is given back once, to the caller that created
    it."""

    source = "roles"
    event_type = "invite.created"

    invite_id: int
    event_id: int
    event_name: str
    email: str
    role: str
    expires_at: AwareDatetime
