"""Permission checks: which roles on an event pass which check.

Admins pass every check. The table is the README's; a parametrised test
covers all of it.
"""
from sqlalchemy import and_, exists, select

from services.roles.exceptions import AccessDenied, InvalidRoleData
from services.roles.models import EventRole, User
from shared.ids import as_id

ORGANIZER_PLUS = frozenset({"owner", "organizer"})
COORGANIZER_PLUS = ORGANIZER_PLUS | {"coorganizer"}

PERMISSIONS = {
    "is_owner": frozenset({"owner"}),
    "is_organizer": ORGANIZER_PLUS,
    "is_coorganizer": COORGANIZER_PLUS,
    "is_track_organizer": COORGANIZER_PLUS | {"track_organizer"},
    "is_moderator": COORGANIZER_PLUS | {"moderator"},
    "is_registrar": COORGANIZER_PLUS | {"registrar"},
    "is_team_member": COORGANIZER_PLUS | {"track_organizer", "moderator", "registrar"},
    "is_admin": frozenset(),
}


def has_access(session, user_id, permission, event_id):
    """Whether the user passes `permission` on the event (`event_id` may be
    None for `is_admin`). An unknown user passes nothing."""
    user_id, roles, event_id = _checked(user_id, permission, event_id)
    holds_role = exists().where(and_(
        EventRole.user_id == User.id, EventRole.event_id == event_id, EventRole.role.in_(roles)
    ))
    passes = session.scalar(select(User.is_admin | holds_role).where(User.id == user_id))
    return bool(passes)


def require(session, user_id, permission, event_id, to):
    """The user's id, or AccessDenied unless the user passes `permission`;
    `to` says what for, in the error: "to invite an owner"."""
    if not has_access(session, user_id, permission, event_id):
        needed = _article(permission.removeprefix("is_").replace("_", " "))
        where = "" if event_id is None else f" of event {event_id}"
        raise AccessDenied(f"you need to be {needed}{where} {to}")
    return as_id(user_id)


def _article(role):
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _checked(user_id, permission, event_id):
    if as_id(user_id) is None:
        raise InvalidRoleData(f"user_id must be a user id, not {user_id!r}")
    if not isinstance(permission, str) or permission not in PERMISSIONS:
        raise InvalidRoleData(
            f"no permission {permission!r}; the permissions are: {', '.join(PERMISSIONS)}"
        )
    if as_id(event_id) is None and not (permission == "is_admin" and event_id is None):
        raise InvalidRoleData(f"event_id must be an event id, not {event_id!r}")
    return as_id(user_id), PERMISSIONS[permission], as_id(event_id)
