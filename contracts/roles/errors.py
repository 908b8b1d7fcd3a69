"""The roles service's errors; each crosses RPC as itself (shared.errors).
It also raises `contracts.errors.AccessDenied` and `EventNotFound`."""
from shared.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Throttled,
    Unauthenticated,
    Unavailable,
)


class InvalidRoleData(InvalidInput):
    code = "invalid_input"


class InvalidCredentials(InvalidInput):
    """Unknown email or wrong password: deliberately the same error."""

    code = "invalid_credentials"


class UserNotFound(NotFound):
    code = "user_not_found"


class InviteNotFound(NotFound):
    code = "invite_not_found"


class EmailTaken(Conflict):
    code = "email_taken"


class InviteExists(Conflict):
    """A pending invite for this email and event exists, or the user holds
    the role already."""

    code = "invite_exists"


class InviteClosed(Conflict):
    """The invite was accepted, declined or has expired."""

    code = "invite_closed"


class EventNotReady(Unavailable):
    """The roles service has not yet set up the event's team."""

    code = "event_not_ready"


class PasswordsBusy(Unavailable):
    """Too many sign-ins, sign-ups and password changes are under way or
    waiting to be hashed (`PASSWORD_HASHES_AT_ONCE`, `_WAITING`): refused
    at once, so that they never take the workers every other call needs.
    Try again after `Retry-After`."""

    code = "passwords_busy"


class EmailNotVerified(PermissionDenied):
    """The actor's email is not verified yet: it counts for nothing (an
    invite to it is neither read, accepted nor declined) until it is."""

    code = "email_not_verified"


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"


class InvalidLink(InvalidInput):
    """A mailed link's token (email verification, password reset) that is
    unknown, used, superseded or expired: deliberately one error."""

    code = "invalid_link"


class SessionEnded(Unauthenticated):
    """The sign-in a token belongs to has ended (signed out, password
    changed or reset), expired, or never was."""

    code = "session_ended"


class WrongPassword(InvalidInput):
    """A password change sent a `current_password` that is not the user's."""

    code = "wrong_password"


class MailTooSoon(Throttled):
    """A mail of this kind was asked for less than a minute ago."""

    code = "mail_too_soon"


class MailNotDue(Conflict):
    """The mailer asked for a link that is no longer due: the invite is no
    longer pending, the email is verified already, the reset was used or
    has lapsed. The message that asked is answered by sending nothing."""

    code = "mail_not_due"


class MemberNotFound(NotFound):
    """The user holds no role on the event."""

    code = "member_not_found"


class OwnerRoleFixed(Conflict):
    """The owner's role is neither given, changed nor removed by team
    management: ownership moves only by an owner invite, accepted."""

    code = "owner_role_fixed"
