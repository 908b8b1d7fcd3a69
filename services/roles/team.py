"""Each event's team: who holds which role, set up and changed by the
messages the roles service consumes.

- `event.created`: the creator becomes the owner.
- `event.copied`: the source event's team is copied to the new event.
- `invite.accepted`: the invitee gets the invite's role; an owner invite
  transfers ownership (the previous owner becomes organizer).
- `event.deleted`: the event is marked deleted; no new invites.

Every function here is idempotent on its own too (inserts skip what
exists), besides the inbox that keeps a message from being applied twice.
"""
from sqlalchemy import delete, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert

from contracts.errors import EventNotFound
from contracts.roles.errors import InvalidRoleData, UserNotFound
from contracts.vocabulary import Role
from services.roles.exceptions import RetryLater
from services.roles.models import EventRole, KnownEvent, RoleInvite, User
from services.roles.models import Role as RoleRank
from shared.ids import as_id


def on_event_created(session, message):
    _know(session, message.event_id, message.identifier)
    _require_user(session, message.owner_id)
    grant(session, message.owner_id, message.event_id, Role.OWNER)


def on_event_copied(session, message):
    """Copy the source's team as it is (one owner, as in the source)."""
    if session.get(KnownEvent, message.source_event_id) is None:
        raise RetryLater(f"event {message.source_event_id}'s team is not known yet")
    _know(session, message.event_id, message.identifier, copied_from_id=message.source_event_id)
    source_team = select(EventRole.user_id, literal(message.event_id), EventRole.role).where(
        EventRole.event_id == message.source_event_id
    )
    session.execute(
        insert(EventRole)
        .from_select(["user_id", "event_id", "role"], source_team)
        .on_conflict_do_nothing()
    )


def on_event_deleted(session, message):
    event = session.get(KnownEvent, message.event_id, with_for_update=True)
    if event is None:
        raise RetryLater(f"event {message.event_id} is not known yet")
    if event.deleted_at is None:
        event.deleted_at = func.now()


def on_invite_accepted(session, message):
    _require_user(session, message.user_id)
    if message.role == Role.OWNER:
        transfer_ownership(session, message.event_id, message.user_id)
    else:
        grant(session, message.user_id, message.event_id, message.role)


def grant(session, user_id, event_id, role):
    session.execute(
        insert(EventRole).values(user_id=user_id, event_id=event_id, role=role)
        .on_conflict_do_nothing()
    )


def transfer_ownership(session, event_id, user_id):
    """Make the user the event's one owner; the previous owner becomes an
    organizer and their pending owner invites expire. Owner changes of one
    event take turns on its row lock."""
    if session.get(KnownEvent, event_id, with_for_update=True) is None:
        raise RetryLater(f"event {event_id} is not known yet")
    previous = session.scalars(
        delete(EventRole).where(EventRole.event_id == event_id, EventRole.role == Role.OWNER)
        .returning(EventRole.user_id)
    ).all()
    for member, role in ownership_grants(previous, user_id):
        grant(session, member, event_id, role)
    # the previous owner's other offers of ownership lapse with it
    session.execute(
        update(RoleInvite)
        .where(RoleInvite.event_id == event_id, RoleInvite.role == Role.OWNER,
               RoleInvite.status == "pending")
        .values(status="expired")
    )


def ownership_grants(previous_owners, new_owner):
    """`[(user_id, role)]` once the owner rows are gone: each previous owner
    but the new one is an organizer, then the new owner the one owner."""
    demoted = [(user, Role.ORGANIZER) for user in previous_owners if user != new_owner]
    return [*demoted, (new_owner, Role.OWNER)]


def list_event_roles(session, event_id):
    """The team, strongest role first: `[{user_id, email, role}]`."""
    event_id = event_ref(event_id)
    if session.get(KnownEvent, event_id) is None:
        raise EventNotFound(f"no event {event_id}")
    rows = session.execute(
        select(EventRole.user_id, User.email, EventRole.role)
        .join(User, User.id == EventRole.user_id)
        .join(RoleRank, RoleRank.name == EventRole.role)
        .where(EventRole.event_id == event_id)
        .order_by(RoleRank.rank, User.email)
    )
    return [row._asdict() for row in rows]


def live_event(session, event_id):
    """The known, not deleted event, else EventNotFound."""
    event = session.get(KnownEvent, event_ref(event_id))
    if event is None or event.deleted_at is not None:
        raise EventNotFound(f"no event {event_id!r}")
    return event


def is_known(session, event_id):
    """Whether the event's first team is in place (a fresh read each call)."""
    return session.scalar(select(exists().where(KnownEvent.id == event_id)))


def event_ref(event_id):
    if as_id(event_id) is None:
        raise InvalidRoleData(f"event_id must be an event id, not {event_id!r}")
    return as_id(event_id)


def _know(session, event_id, identifier, copied_from_id=None):
    session.execute(
        insert(KnownEvent)
        .values(id=event_id, identifier=identifier, copied_from_id=copied_from_id)
        .on_conflict_do_nothing()
    )


def _require_user(session, user_id):
    if session.get(User, user_id) is None:
        raise UserNotFound(f"no user {user_id}: the message names a user who never signed up")
