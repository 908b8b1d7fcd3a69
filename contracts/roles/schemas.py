"""What callers send the roles service."""
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from contracts.vocabulary import ROLES
from shared.validation import Answer, Schema

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
    created_at: str


class Invite(Answer):
    id: int
    event_id: int
    email: str
    role: RoleName
    status: Literal["pending", "accepted", "declined", "expired"]
    expires_at: str


class InviteCreated(Invite):
    token: str = Field(description="the accept token, given this once (it would be emailed)")
    accept_path: str


class TeamMember(Answer):
    user_id: int
    email: Email
    role: RoleName
