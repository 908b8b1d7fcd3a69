"""The roles service's errors; each crosses RPC as itself (shared.errors).
It also raises `contracts.errors.AccessDenied` and `EventNotFound`."""
from shared.errors import Conflict, InvalidInput, NotFound, Unavailable


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
