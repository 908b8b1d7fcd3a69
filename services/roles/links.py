"""Mailed links' tokens: minted when their mail is sent, kept only as their
SHA-256, so no usable token rests anywhere (database, broker, dead letters)
and a mail that never went out leaves no live link.

A verification or reset token is a `LinkToken` row, minted for the user's
email as it is then: single use, expiring, and only the newest of its user
and purpose is good (minting deletes the ones before). An invite's token is
the invite row's `token_hash`; each new one replaces the one before, and a
hash of a token nobody knows kills the link.
"""
import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, select

from contracts.roles.errors import InvalidLink
from services.roles.models import LinkToken, User

VERIFY_EMAIL, PASSWORD_RESET = "verify_email", "password_reset"


def new_token():
    """A fresh token, and the hash that is kept of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def dead_hash():
    """The hash of a token nobody knows: storing it kills a link."""
    return new_token()[1]


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def mint(session, user, purpose, lifetime):
    """A fresh `purpose` token for `user`'s email, good for `lifetime` (a
    timedelta), and when it expires; the user's earlier ones of `purpose`
    die. The caller holds the user's row lock, so mints take turns."""
    session.execute(delete(LinkToken).where(LinkToken.user_id == user.id,
                                            LinkToken.purpose == purpose))
    token, token_hash = new_token()
    expires_at = datetime.now(UTC) + lifetime
    session.add(LinkToken(token_hash=token_hash, purpose=purpose, user_id=user.id,
                          email=user.email, expires_at=expires_at))
    return token, expires_at


def use(session, token, purpose):
    """The user a `purpose` token (a string the caller validated) was
    minted for, the token used up. InvalidLink, changing nothing, unless it
    is unused, unexpired, the newest of its user and purpose, and minted
    for the user's email as it is now. The user's row is locked first: its
    mints and uses take turns on it."""
    mine = (LinkToken.token_hash == hash_token(token), LinkToken.purpose == purpose)
    user_id = session.scalar(select(LinkToken.user_id).where(*mine))
    user = user_id and session.get(User, user_id, with_for_update=True)
    link = user and session.scalars(select(LinkToken).where(*mine)).first()
    now = datetime.now(UTC)
    if not link or link.used_at is not None or link.expires_at <= now or (
            link.email != user.email):
        raise InvalidLink("this link is unknown, used, superseded or expired")
    link.used_at = now
    return user


def recent(moment, interval):
    """Whether `moment` (None: never) is less than `interval` ago: a mail
    asked for then is asked again too soon, a reset asked for then is due."""
    return moment is not None and datetime.now(UTC) - moment < interval
