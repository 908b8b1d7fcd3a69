"""What callers send the roles service."""
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from contracts.vocabulary import ROLES
from shared.validation import Answer, Page, Schema

RoleName = Literal[ROLES]


def normalise_email(value):
    """The one form an address is stored and compared in: stripped,
    checked for syntax, its domain in IDNA form, then lower case."""
    try:
        address = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise PydanticCustomError("email", "not an email address: {reason}",
                                  {"reason": str(exc)}) from None
    return f"{address.local_part}@{address.ascii_domain}".lower()


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320),
                  AfterValidator(normalise_email)]
# argon2 takes any length; the cap keeps hashing cheap to refuse
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class SignUp(Schema):
    email: Email
    password: Password
    name: Name


class Credentials(Schema):
    email: Annotated[str, StringConstraints(max_length=320)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class InviteIn(Schema):
    email: Email
    role: RoleName


class InviteAnswer(Schema):
    """Accept (the default) or decline by the mailed link's token."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    status: Literal["accepted", "declined"] = "accepted"


class InviteQuery(Page):
    """"My invites": a window, and only those with this `status`."""

    status: Literal["pending", "accepted", "declined", "expired"] = None


class LinkToken(Schema):
    """A mailed link's token (email verification)."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class ProfileUpdate(Schema):
    """`{name}`, or `{password, current_password}` (which ends the user's
    other sign-ins), or both."""

    name: Name = None
    password: Password = None
    current_password: Annotated[str, StringConstraints(max_length=1024)] = None

    @model_validator(mode="after")
    def _password_with_current(self):
        if (self.password is None) != (self.current_password is None):
            raise ValueError("a new password goes with current_password")
        if self.name is None and self.password is None:
            raise ValueError("send name, or password with current_password")
        return self


class PasswordResetRequest(Schema):
    email: Annotated[str, StringConstraints(max_length=320)]


class PasswordReset(Schema):
    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    password: Password


class RoleChange(Schema):
    """A member's new role: any but `owner`."""

    role: Literal[tuple(role for role in ROLES if role != "owner")]


class InviteUpdate(Schema):
    """What an update may send: the invitee `status`, an organizer+ `role`
    and `email` (service.update_invite says who may send which)."""

    status: Literal["accepted", "declined"] = None
    role: RoleName = None
    email: Email = None


# answers

class User(Answer):
    id: int
    email: str
    name: str
    is_admin: bool
    email_verified: bool
    created_at: str


class SignedIn(Answer):
    """A new sign-in: the user, and the session a token names (`sid`)."""

    user: User
    session_id: str


class Invite(Answer):
    id: int
    event_id: int
    email: str
    role: RoleName
    status: Literal["pending", "accepted", "declined", "expired"]
    expires_at: str


    event_name: str | None = Field(description="the event's name when it was invited to")
    inviter_name: str | None


class Mail(Answer):
    """What the notifications service needs to mail a link: the address,
    the recipient's name (when a user has the address) and the link's
    `token`, minted for this mail (it kills the one mailed before)."""

    to: str
    name: str | None
    token: str
    expires_at: str


class InviteMail(Mail):
    event_name: str
    inviter_name: str
    role: RoleName


class OwnerMail(Answer):
    """What the notifications service needs to mail an event's owner
    (no link token): the owner's address and name, the event's name."""

    to: str
    name: str
    event_name: str


class MyRole(Answer):
    event_id: int
    role: RoleName


class TeamMember(Answer):
    user_id: int
    email: Email
    role: RoleName
