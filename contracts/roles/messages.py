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
    """An invite was made; the notifications service mails the invitee.
    It carries no token: the mailer asks the roles service for the accept
    link when it sends the mail (`RolesRpc.invite_mail`)."""

    source = "roles"
    event_type = "invite.created"

    invite_id: int
    event_id: int
    event_name: str
    email: str
    role: str
    expires_at: AwareDatetime


class InviteResent(Message):
    """A fresh accept link is due: an organizer asked for one, or changed
    the invite's email. The invite's earlier link is dead already."""

    source = "roles"
    event_type = "invite.resent"

    invite_id: int
    event_id: int
    email: str
    role: str
    expires_at: AwareDatetime


class UserRegistered(Message):
    """A user signed up; the notifications service mails them a link to
    verify their email (`RolesRpc.verification_mail`)."""

    source = "roles"
    event_type = "user.registered"

    user_id: int
    email: str
    name: str


class VerificationRequested(Message):
    """A signed-in user asked for a new email verification link."""

    source = "roles"
    event_type = "email_verification.requested"

    user_id: int
    email: str


class PasswordResetRequested(Message):
    """Someone asked to reset the password of this existing user; the
    notifications service mails the user a reset link
    (`RolesRpc.password_reset_mail`). No message at all for an unknown
    email."""

    source = "roles"
    event_type = "password_reset.requested"

    user_id: int


class RoleChanged(Message):
    """A member's role on an event was changed (`PATCH …/roles/{user_id}`);
    it holds from the next request on."""

    source = "roles"
    event_type = "role.changed"

    event_id: int
    user_id: int
    role: str
    previous_role: str
    actor_id: int


class RoleRevoked(Message):
    """A member left the event's team or was removed from it; their pending
    invites to the event were withdrawn with it."""

    source = "roles"
    event_type = "role.revoked"

    event_id: int
    user_id: int
    role: str
    actor_id: int
