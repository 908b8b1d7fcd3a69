"""Each event's team: who holds which role, set up and changed by the
messages the roles service consumes.

- `event.created`: the creator becomes the owner.
- `event.copied`: the source event's team is copied to the new event.
- `invite.accepted`: the invitee gets the invite's role; an owner invite
  transfers ownership (the previous owner becomes organizer).
- `event.deleted`: the event is marked deleted; no new invites.

Every function here is idempotent on its own too (inserts skip what
exists), besides the inbox that keeps a message from being applied twice.

No message is believed blindly: each handler checks what the message claims
against this service's own data where it can, and refuses a claim its data
contradicts with `ForgedMessage` (dead-lettered at once, with the reason;
nothing changes). A replay under a new message id escapes the inbox, so
each handler also refuses a claim already honoured. What each believes, and
why, is in its docstring; the sender of the message (RabbitMQ's verified
`user_id`, `shared.handlers`) is what vouches for the rest.
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
from shared.messages import ForgedMessage
from shared.readcache import stale, team_version, user_version


def on_event_created(session, message):
    """The creator becomes the owner of the new event.

    Checked: the event is new to this service. The events service announces
    each event once (its relay's redeliveries carry the same message id,
    which the inbox absorbs), so an event known already, created or copied,
    is a replay or a forgery that would add an owner to someone's event:
    refused. The owner must have signed up (else UserNotFound, retried: the
    events service had it vouched for). Believed on the sender's word: that
    the event exists and that this user created it; nothing here can tell.
    """
    _know_new(session, message.event_id, message.identifier)
    _require_user(session, message.owner_id)
    grant(session, message.owner_id, message.event_id, Role.OWNER)


def on_event_copied(session, message):
    """Copy the source's team as it is (one owner, as in the source).

    Checked: the source is an event this service knows, by its id and its
    identifier (an identifier never changes; a source not known yet is
    retried: its `event.created` may be on its way); and the copy is new to
    this service, as a copy is (a known one is a replay or a forgery:
    refused). Believed: that the copy exists and `actor_id` made it. Not
    checked against the actor's role on the source: a role revoked between
    the copy and this message would leave the copy without its team, and a
    forged copy gives nobody a role they do not hold on the source.
    """
    source = session.get(KnownEvent, message.source_event_id)
    if source is None:
        raise RetryLater(f"event {message.source_event_id}'s team is not known yet")
    _require_identifier(source, message.source_identifier)
    _know_new(session, message.event_id, message.identifier,
              copied_from_id=message.source_event_id)
    source_team = select(EventRole.user_id, literal(message.event_id), EventRole.role).where(
        EventRole.event_id == message.source_event_id
    )
    members = session.scalars(
        insert(EventRole)
        .from_select(["user_id", "event_id", "role"], source_team)
        .on_conflict_do_nothing()
        .returning(EventRole.user_id)
    ).all()
    team_changed(session, message.event_id, *members)


def on_event_deleted(session, message):
    """Mark the event deleted: it takes no more invites.

    Checked: the event is known, by its id and its identifier (not known
    yet: retried). Believed: that the events service deleted it; this
    service holds nothing that could say otherwise. A replay changes
    nothing: deleted stays deleted.
    """
    event = session.get(KnownEvent, message.event_id, with_for_update=True)
    if event is None:
        raise RetryLater(f"event {message.event_id} is not known yet")
    _require_identifier(event, message.identifier)
    if event.deleted_at is None:
        event.deleted_at = func.now()
        team_changed(session, event.id)


def on_invite_accepted(session, message):
    """Grant the role of an invite this service holds as accepted, once.

    Believed: only which invite the message names; everything else is
    checked against the invite itself. It must exist and be accepted, to
    the message's event and role and to the message's email; the user must
    be the one the message names, whose email is the invite's (the invitee
    who accepted it); and its role must not have been granted already (a
    second message for it, under a new id, is a replay: it would restore a
    role revoked since, or an ownership passed on). Anything else is a
    forged claim: refused, nothing changes. The invite's row lock makes two
    messages for one invite take turns.
    """
    invite = session.get(RoleInvite, message.invite_id, with_for_update=True)
    _require_honourable(session, invite, message)
    if invite.role == Role.OWNER:
        transfer_ownership(session, invite.event_id, message.user_id)
    else:
        grant(session, message.user_id, invite.event_id, invite.role)
    invite.granted_at = func.now()


def _require_honourable(session, invite, message):
    """ForgedMessage unless `invite` is accepted, ungranted, and is what
    the `invite.accepted` message says it is."""
    name = f"invite {message.invite_id}"
    if invite is None:
        raise ForgedMessage(f"{name}: this service holds no such invite")
    if invite.status != "accepted":
        raise ForgedMessage(f"{name} is {invite.status}, not accepted")
    if invite.event_id != message.event_id:
        raise ForgedMessage(f"{name} is to event {invite.event_id}, not {message.event_id}")
    if invite.role != message.role:
        raise ForgedMessage(f"{name} is for role {invite.role}, not {message.role}")
    invitee = session.get(User, message.user_id)
    if invite.email != message.email or invitee is None or invitee.email != invite.email:
        raise ForgedMessage(f"{name} is not to user {message.user_id}")
    if invite.granted_at is not None:
        raise ForgedMessage(f"{name}'s role was granted already: a replay")


def grant(session, user_id, event_id, role):
    session.execute(
        insert(EventRole).values(user_id=user_id, event_id=event_id, role=role)
        .on_conflict_do_nothing()
    )
    team_changed(session, event_id, user_id)


def team_changed(session, event_id, *user_ids):
    """Mark the gateway's cached reads of the event's team, and of these
    members' events, stale once this transaction commits (`shared.readcache`)."""
    stale(session, team_version(event_id), *map(user_version, user_ids))


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


def owner(session, event_id):
    """`{to, name}` of the live event's one owner."""
    event = live_event(session, event_id)
    to, name = session.execute(
        select(User.email, User.name).join(EventRole, EventRole.user_id == User.id)
        .where(EventRole.event_id == event.id, EventRole.role == Role.OWNER)
    ).one()
    return {"to": to, "name": name}


def live_event(session, event_id, lock=False):
    """The known, not deleted event, else EventNotFound. `lock`: its row
    locked for changes of its team to take turns (with each other, with
    ownership transfers and the deletion); FOR NO KEY UPDATE, so that rows
    that merely point at the event (a grant, an invite) are not held up."""
    event = session.get(KnownEvent, event_ref(event_id),
                        with_for_update={"key_share": True} if lock else None)
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


def _know_new(session, event_id, identifier, copied_from_id=None):
    """Record the event, which must be new to this service (else
    ForgedMessage; a concurrent first record of it waits for the other's
    transaction, then finds it)."""
    known = session.execute(
        insert(KnownEvent)
        .values(id=event_id, identifier=identifier, copied_from_id=copied_from_id)
        .on_conflict_do_nothing()
        .returning(KnownEvent.id)
    ).first()
    if known is None:
        raise ForgedMessage(f"event {event_id} is known already: a replay or a forgery")


def _require_identifier(event, identifier):
    if event.identifier != identifier:
        raise ForgedMessage(f"event {event.id} is {event.identifier}, not {identifier}")


def _require_user(session, user_id):
    if session.get(User, user_id) is None:
        raise UserNotFound(f"no user {user_id}: the message names a user who never signed up")
