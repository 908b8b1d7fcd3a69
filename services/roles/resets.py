"""Password resets by mail: anyone may ask for one for an email, and is
answered alike whether or not a user has it; a user's request is
announced (`password_reset.requested`, one a `MAIL_INTERVAL_SECONDS`), on
which the notifications service asks `password_reset_mail` for the link.
"""
from datetime import UTC, datetime

from contracts.roles.errors import MailNotDue
from contracts.roles.messages import PasswordResetRequested
from contracts.roles.schemas import PasswordReset, PasswordResetRequest
from services.roles import links, sessions
from services.roles.schemas import validate
from services.roles.users import find_by_email, get_user
from services.roles.verification import mark_verified
from shared import outbox
from shared.times import iso_utc


def request_password_reset(session, email, interval):
    """Announce a reset for the user with `email`, unless they asked less
    than `interval` ago. The same lookup and the same answer for an email
    nobody has, or that is none: who has an account is not told."""
    email = validate(PasswordResetRequest, {"email": email}, "password reset request")["email"]
    user = find_by_email(session, email, lock=True)
    if user is not None and not links.recent(user.password_reset_requested_at, interval):
        user.password_reset_requested_at = datetime.now(UTC)
        outbox.add(session, PasswordResetRequested(user_id=user.id))
    return {"requested": True}


def password_reset_mail(session, user_id, lifetime):
    """The mail of a fresh reset link, good for `lifetime`; the link mailed
    before dies. MailNotDue unless the user asked for a reset less than
    `lifetime` ago and has not used it."""
    user = get_user(session, user_id, lock=True)
    if not links.recent(user.password_reset_requested_at, lifetime):
        raise MailNotDue(f"user {user.id} has no reset request under way")
    token, expires_at = links.mint(session, user, links.PASSWORD_RESET, lifetime)
    return {"to": user.email, "name": user.name, "token": token,
            "expires_at": iso_utc(expires_at)}


def reset_password(session, passwords, token, password):
    """Set the password of the user the reset token was minted for
    (InvalidLink if it is no good); the token is used up, the request
    done, and every sign-in of the user ends. A reset link proves the
    mailbox, as a verification link does: the email is verified too."""
    values = validate(PasswordReset, {"token": token, "password": password}, "password reset")
    password_hash = passwords.hash(values["password"])  # before the row locks
    user = links.use(session, values["token"], links.PASSWORD_RESET)
    user.password_hash = password_hash
    user.password_reset_requested_at = None
    mark_verified(user)
    sessions.end_all(session, user.id)
    return {"reset": True}
