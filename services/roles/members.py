"""Team management by people: an organizer+ changes a member's role or
removes them, a member leaves, a user lists the events they are on.

The owner's role is fixed here (`OwnerRoleFixed`): ownership moves only by
an owner invite, accepted (`team.transfer_ownership`). A user may hold
several roles on one event; a change leaves them exactly the new one, and
the role a message reports as theirs before is their strongest. Changes
of one event's team take turns on its row lock, as ownership transfers do.
"""
from sqlalchemy import delete, exists, select

from contracts.roles.errors import InvalidRoleData, MemberNotFound, OwnerRoleFixed
from contracts.roles.messages import RoleChanged, RoleRevoked
from contracts.roles.schemas import RoleChange
from contracts.vocabulary import ROLES, Permission, Role
from services.roles import team
from services.roles.access import require
from services.roles.models import EventRole, KnownEvent, RoleInvite, User
from services.roles.models import Role as RoleRank
from services.roles.schemas import validate
from shared import outbox
from shared.ids import as_id


def change_role(session, actor_id, event_id, user_id, data):
    """Give the member `data["role"]` (`RoleChange`) in place of every role
    they hold; announces `role.changed` unless it is the one role they hold
    already. Answers the member: `{user_id, email, role}`."""
    user_id, role = user_ref(user_id), validate(RoleChange, data, "role change")["role"]
    event = team.live_event(session, event_id, lock=True)
    actor_id = require(session, actor_id, Permission.IS_ORGANIZER, event.id,
                       to="to change its members' roles")
    email, held = _member(session, event.id, user_id)
    if held != [role]:
        _take_roles(session, event.id, user_id)
        team.grant(session, user_id, event.id, role)
        outbox.add(session, RoleChanged(event_id=event.id, user_id=user_id, role=role,
                                        previous_role=held[0], actor_id=actor_id))
    return {"user_id": user_id, "email": email, "role": role}


def remove_member(session, actor_id, event_id, user_id):
    """Take the member off the team: every role they hold on the event,
    and their pending invites to it. The member themselves may (leaving),
    else an organizer+. Announces `role.revoked` with their strongest role."""
    user_id = user_ref(user_id)
    event = team.live_event(session, event_id, lock=True)
    if user_id != actor_id:
        require(session, actor_id, Permission.IS_ORGANIZER, event.id, to="to remove its members")
    email, held = _member(session, event.id, user_id)
    _take_roles(session, event.id, user_id)
    session.execute(
        delete(RoleInvite)
        .where(RoleInvite.event_id == event.id, RoleInvite.email == email,
               RoleInvite.status == "pending")
    )
    outbox.add(session, RoleRevoked(event_id=event.id, user_id=user_id, role=held[0],
                                    actor_id=actor_id))
    return {"event_id": event.id, "user_id": user_id, "removed": True}


def list_my_events(session, actor_id, role=None):
    """`[{event_id, role}]` by event id: the live events where the user
    holds a role, with their strongest there; only those where that is
    `role`, if given. One query: the user's rows through the unique key
    (user_id, event_id, role), less the deleted events through their
    partial index (migration 0004), never a scan of every event."""
    if role is not None and role not in ROLES:
        raise InvalidRoleData(f"no role {role!r}; the roles are: {', '.join(ROLES)}")
    deleted = exists().where(KnownEvent.id == EventRole.event_id,
                             KnownEvent.deleted_at.is_not(None))
    strongest = (
        select(EventRole.event_id, EventRole.role)
        .join(RoleRank, RoleRank.name == EventRole.role)
        .where(EventRole.user_id == actor_id, ~deleted)
        .distinct(EventRole.event_id)
        .order_by(EventRole.event_id, RoleRank.rank)
        .subquery()
    )
    query = select(strongest).order_by(strongest.c.event_id)
    if role is not None:
        query = query.where(strongest.c.role == role)
    return [row._asdict() for row in session.execute(query)]


def _member(session, event_id, user_id):
    """`(email, roles)`: the member's email and the roles they hold on the
    event, strongest first. MemberNotFound if they hold none,
    OwnerRoleFixed if one is `owner`."""
    rows = session.execute(
        select(User.email, EventRole.role)
        .join(EventRole, EventRole.user_id == User.id)
        .join(RoleRank, RoleRank.name == EventRole.role)
        .where(EventRole.event_id == event_id, User.id == user_id)
        .order_by(RoleRank.rank)
    ).all()
    if not rows:
        raise MemberNotFound(f"user {user_id} holds no role on event {event_id}")
    roles = [row.role for row in rows]
    if Role.OWNER in roles:
        raise OwnerRoleFixed(f"user {user_id} owns event {event_id}: an owner invite,"
                             " accepted, is the one way ownership moves")
    return rows[0].email, roles


def user_ref(user_id):
    if as_id(user_id) is None:
        raise InvalidRoleData(f"user_id must be a user id, not {user_id!r}")
    return as_id(user_id)


def _take_roles(session, event_id, user_id):
    session.execute(
        delete(EventRole).where(EventRole.event_id == event_id, EventRole.user_id == user_id)
    )
    team.team_changed(session, event_id, user_id)
