"""Users: sign up, sign in, read, change their name or password, and the
admin flag."""
from datetime import UTC, datetime

from psycopg2.errors import UniqueViolation
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contracts.roles.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidRoleData,
    UserNotFound,
    WrongPassword,
)
from contracts.roles.messages import UserRegistered
from contracts.roles.schemas import Credentials, ProfileUpdate, SignUp, normalise_email
from contracts.vocabulary import Permission
from services.roles import sessions
from services.roles.access import require
from services.roles.models import User
from services.roles.schemas import validate
from shared import outbox
from shared.ids import as_id
from shared.readcache import stale, user_version
from shared.times import iso_utc


def sign_up(session, passwords, data):
    """A new user, announced by `user.registered` (on which the user is
    mailed a verification link: it counts as their first request for one).
    EmailTaken if the address is signed up already."""
    values = validate(SignUp, data, "sign-up")
    user = User(email=values["email"], name=values["name"],
                password_hash=passwords.hash(values["password"]),
                verification_requested_at=datetime.now(UTC))
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        if isinstance(exc.orig, UniqueViolation):
            raise EmailTaken(f"{values['email']} is signed up already") from None
        raise
    outbox.add(session, UserRegistered(user_id=user.id, email=user.email, name=user.name))
    return serialize_user(user)


def sign_in(session, passwords, email, password, lifetime_seconds):
    """`{user, session_id}`: a new sign-in of the user with these
    credentials, on for `lifetime_seconds`."""
    user = authenticate(session, passwords, email, password)
    return {"user": serialize_user(user),
            "session_id": sessions.start(session, user.id, lifetime_seconds)}


def authenticate(session, passwords, email, password):
    """The user with these credentials. An unknown email and a wrong password
    raise the same InvalidCredentials, after the same work."""
    values = validate(Credentials, {"email": email, "password": password}, "credentials")
    user = find_by_email(session, values["email"])
    if not passwords.verify(user and user.password_hash, values["password"]):
        raise InvalidCredentials("wrong email or password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(values["password"])
    return user


def find_by_email(session, email, lock=False):
    """The user with this email in any spelling, else None, after the same
    lookup (an address that is none is looked up as one nobody has)."""
    try:
        email = normalise_email(email)
    except ValueError:
        email = None
    query = select(User).where(User.email == email)
    return session.scalars(query.with_for_update() if lock else query).first()


def update_me(session, passwords, user_id, data, session_id):
    """Change the user's `name`, or `password` (which must come with the
    right `current_password`: else WrongPassword); a new password ends
    every sign-in of theirs but `session_id`."""
    values = validate(ProfileUpdate, data, "profile update", sent_only=True)
    keep = sessions.session_ref(session_id)
    user = get_user(session, user_id, lock=True)
    if "password" in values:
        if not passwords.verify(user.password_hash, values["current_password"]):
            raise WrongPassword("the current password is not right")
        user.password_hash = passwords.hash(values["password"])
        sessions.end_all(session, user.id, but=keep)
    if "name" in values:
        user.name = values["name"]
    return serialize_user(user)


def get_user(session, user_id, lock=False):
    user = session.get(User, _user_id(user_id), with_for_update=lock or None)
    if user is None:
        raise UserNotFound(f"no user {user_id!r}")
    return user


def get_visible_user(session, actor_id, user_id):
    """The user, for the user themselves or an admin (it reveals an email)."""
    user = get_user(session, user_id)
    if user.id != actor_id:
        require(session, actor_id, Permission.IS_ADMIN, None, to="to see another user")
    return user


def set_admin(session, actor_id, user_id, is_admin):
    """Grant or revoke the admin flag; only an admin may."""
    if not isinstance(is_admin, bool):
        raise InvalidRoleData(f"is_admin must be true or false, not {is_admin!r}")
    require(session, actor_id, Permission.IS_ADMIN, None, to="to change who is an admin")
    user = get_user(session, user_id)
    user.is_admin = is_admin
    stale(session, user_version(user.id))  # the gateway's cached permission answers
    return serialize_user(user)


def _user_id(user_id):
    if as_id(user_id) is None:
        raise InvalidRoleData(f"user_id must be a user id, not {user_id!r}")
    return as_id(user_id)


def serialize_user(user):
    return {"id": user.id, "email": user.email, "name": user.name,
            "is_admin": user.is_admin, "email_verified": user.email_verified_at is not None,
            "created_at": iso_utc(user.created_at)}
