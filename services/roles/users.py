"""Users: sign up, authenticate, read, and the admin flag."""
from psycopg2.errors import UniqueViolation
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contracts.roles.errors import EmailTaken, InvalidCredentials, InvalidRoleData, UserNotFound
from contracts.roles.schemas import Credentials, SignUp, normalise_email
from contracts.vocabulary import Permission
from services.roles.access import require
from services.roles.models import User
from services.roles.schemas import validate
from shared.ids import as_id
from shared.times import iso_utc


def sign_up(session, passwords, data):
    """A new user; EmailTaken if the address is signed up already."""
    values = validate(SignUp, data, "sign-up")
    user = User(email=values["email"], name=values["name"],
                password_hash=passwords.hash(values["password"]))
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        if isinstance(exc.orig, UniqueViolation):
            raise EmailTaken(f"{values['email']} is signed up already") from None
        raise
    return serialize_user(user)


def authenticate(session, passwords, email, password):
    """The user with these credentials. An unknown email and a wrong password
    raise the same InvalidCredentials, after the same work."""
    values = validate(Credentials, {"email": email, "password": password}, "credentials")
    user = session.scalars(select(User).where(User.email == _normalised(values["email"]))).first()
    if not passwords.verify(user and user.password_hash, values["password"]):
        raise InvalidCredentials("wrong email or password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(values["password"])
    return serialize_user(user)


def _normalised(email):
    try:
        return normalise_email(email)
    except ValueError:
        return None  # no user has it; the password is still checked


def get_user(session, user_id):
    user = session.get(User, _user_id(user_id))
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
    return serialize_user(user)


def _user_id(user_id):
    if as_id(user_id) is None:
        raise InvalidRoleData(f"user_id must be a user id, not {user_id!r}")
    return as_id(user_id)


def serialize_user(user):
    return {"id": user.id, "email": user.email, "name": user.name,
            "is_admin": user.is_admin, "created_at": iso_utc(user.created_at)}
