"""Verified emails: an address counts for anything (an invite to it) only
once its owner has opened a link mailed to it.

Sign-up announces `user.registered`, a signed-in user may ask for another
link (`email_verification.requested`, one a `MAIL_INTERVAL_SECONDS`); on
either the notifications service asks `verification_mail`, which mints the
link's token (`links`).
"""
from datetime import UTC, datetime

from contracts.roles.errors import EmailAlreadyVerified, MailNotDue, MailTooSoon
from contracts.roles.messages import VerificationRequested
from contracts.roles.schemas import LinkToken
from services.roles import links
from services.roles.schemas import validate
from services.roles.users import get_user, serialize_user
from shared import outbox
from shared.times import iso_utc


def request_verification(session, user_id, interval):
    """Announce that the user wants a new verification link; MailTooSoon
    if they asked less than `interval` ago (sign-up counts as asking)."""
    user = get_user(session, user_id, lock=True)
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified(f"{user.email} is verified already")
    if links.recent(user.verification_requested_at, interval):
        raise MailTooSoon(f"a verification mail was asked for less than"
                          f" {interval.total_seconds():g} seconds ago")
    user.verification_requested_at = datetime.now(UTC)
    outbox.add(session, VerificationRequested(user_id=user.id, email=user.email))
    return {"requested": True}


def verification_mail(session, user_id, lifetime):
    """The mail of a fresh verification link, good for `lifetime`; the
    link mailed before dies. MailNotDue once the email is verified."""
    user = get_user(session, user_id, lock=True)
    if user.email_verified_at is not None:
        raise MailNotDue(f"user {user.id}'s email is verified already")
    token, expires_at = links.mint(session, user, links.VERIFY_EMAIL, lifetime)
    return {"to": user.email, "name": user.name, "token": token,
            "expires_at": iso_utc(expires_at)}


def verify_email(session, token):
    """Verify the email the link's token was minted for (InvalidLink if it
    is no good); the token is used up."""
    token = validate(LinkToken, {"token": token}, "link")["token"]
    user = links.use(session, token, links.VERIFY_EMAIL)
    mark_verified(user)
    return serialize_user(user)


def mark_verified(user):
    """The user's email is verified (from now, if it was not already)."""
    if user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)
