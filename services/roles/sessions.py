"""Sign-ins (`models.Session`, called `SignIn` here beside the database
session): a bearer token names one (`sid`) and is good while it is on,
neither ended (signed out, password changed or reset) nor expired."""
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, select, update

from contracts.roles.errors import InvalidRoleData, SessionEnded
from services.roles.models import Session as SignIn
from shared.ids import as_id
from shared.readcache import stale, user_version

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # what `start` makes


def start(session, user_id, lifetime_seconds):
    """A new sign-in of the user's, on for `lifetime_seconds`; its id."""
    if as_id(lifetime_seconds) is None:
        raise InvalidRoleData(f"lifetime_seconds must be a positive whole number,"
                              f" not {lifetime_seconds!r}")
    sign_in = SignIn(id=secrets.token_urlsafe(16), user_id=user_id,
                     expires_at=datetime.now(UTC) + timedelta(seconds=as_id(lifetime_seconds)))
    session.add(sign_in)
    return sign_in.id


def check(session, user_id, session_id):
    """True if the user's sign-in `session_id` is on, else SessionEnded:
    one lookup by primary key, as it runs on every signed-in request. A
    `session_id` that is not one `start` could make names no sign-in
    (SessionEnded, no lookup); a `user_id` that is not an id is
    InvalidRoleData."""
    if as_id(user_id) is None:
        raise InvalidRoleData(f"user_id must be a user id, not {user_id!r}")
    on = _is_session_id(session_id) and session.scalar(select(exists().where(
        SignIn.id == session_id, SignIn.user_id == as_id(user_id),
        SignIn.ended_at.is_(None), SignIn.expires_at > func.now(),
    )))
    if not on:
        raise SessionEnded("this sign-in has ended")
    return True


def end(session, user_id, session_id):
    """End the user's sign-in `session_id`; one that is not theirs, or has
    ended already, is left as it is."""
    session.execute(update(SignIn)
                    .where(SignIn.id == session_ref(session_id), SignIn.user_id == user_id,
                           SignIn.ended_at.is_(None))
                    .values(ended_at=func.now()))
    stale(session, user_version(user_id))  # the gateway's cached "this sign-in is on"


def end_all(session, user_id, but=None):
    """End every sign-in of the user's, but the one `but` names."""
    ending = update(SignIn).where(SignIn.user_id == user_id, SignIn.ended_at.is_(None))
    if but is not None:
        ending = ending.where(SignIn.id != but)
    session.execute(ending.values(ended_at=func.now()))
    stale(session, user_version(user_id))


def session_ref(session_id):
    """`session_id` if it could name a sign-in, else InvalidRoleData."""
    if not _is_session_id(session_id):
        raise InvalidRoleData(f"session_id must be a sign-in's id, not {session_id!r}")
    return session_id


def _is_session_id(value):
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None
