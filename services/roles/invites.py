"""Role invites: create, read, list, amend, accept or decline, delete.

Who may do what (the seed's rules, with their holes fixed):

- create, amend (`role`, `email`) and delete: organizer+; anything that
  touches an owner invite: the owner;
- accept or decline (`status`, alone): only the invitee, the signed-in user
  whose email is the invite's, by invite id or by the emailed token;
- read: the invitee or coorganizer+; the token is never given back, but
  once at creation (and once after an email change, which replaces it);
- an accepted, declined or expired invite changes no more; an accepted one
  is not deleted.

Accepting records the new status and `invite.accepted` in one transaction;
the service's own handler of that message grants the role (see `team`).
"""
import hashlib
import secrets
from datetime import UTC, datetime

from psycopg2.errors import UniqueViolation
from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError

from contracts.errors import AccessDenied
from contracts.roles.errors import InvalidRoleData, InviteClosed, InviteExists, InviteNotFound
from contracts.roles.messages import InviteAccepted, InviteCreated
from contracts.roles.schemas import InviteIn, InviteUpdate
from contracts.vocabulary import Permission, Role
from services.roles import team
from services.roles.access import has_access, require
from services.roles.models import EventRole, RoleInvite, User
from services.roles.schemas import validate
from shared import outbox
from shared.ids import as_id
from shared.times import iso_utc
from shared.validation import page

ACCEPT_PATH = "/role-invites/accept?token={token}"


def create_invite(session, actor_id, event_id, data, event_name, ttl):
    """A pending invite, with its token and accept link given back this
    once; announces `invite.created`, which names the event `event_name`."""
    values = validate(InviteIn, data, "invite")
    event = team.live_event(session, event_id)
    actor_id = _require_manager(session, actor_id, event.id, "to invite", values["role"])
    _refuse_if_role_held(session, event.id, values["email"], values["role"])
    _expire_lapsed(session, event.id, values["email"])
    token, token_hash = _new_token()
    invite = RoleInvite(event_id=event.id, email=values["email"], role=values["role"],
                        status="pending", token_hash=token_hash,
                        expires_at=datetime.now(UTC) + ttl, created_by=actor_id)
    session.add(invite)
    _flush_refusing_duplicates(session, invite)
    outbox.add(session, InviteCreated(invite_id=invite.id, event_id=event.id,
                                      event_name=event_name, email=invite.email,
                                      role=invite.role, expires_at=invite.expires_at))
    return {**serialize_invite(invite), "event_name": event_name, **_secret(token)}


def get_invite(session, actor_id, invite_id):
    invite = _find(session, invite_id)
    if not _is_invitee(session, actor_id, invite):
        require(session, actor_id, Permission.IS_COORGANIZER, invite.event_id,
                to="to see its invites")
    return serialize_invite(invite)


def list_invites(session, actor_id, event_id, limit=None, offset=None):
    """`{items, total, limit, offset}`: the event's invites, newest first."""
    window = page(limit, offset, InvalidRoleData)
    event = team.live_event(session, event_id)
    require(session, actor_id, Permission.IS_COORGANIZER, event.id, to="to see its invites")
    query = select(RoleInvite).where(RoleInvite.event_id == event.id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    invites = session.scalars(
        query.order_by(RoleInvite.id.desc()).limit(window.limit).offset(window.offset)
    ).all()
    return {"items": [serialize_invite(invite) for invite in invites], "total": total,
            **window.model_dump()}


def update_invite(session, actor_id, invite_id, data):
    """Accept or decline (the invitee, `status` alone), or amend `role` and
    `email` (organizer+) of a pending invite. Returns the invite and, if it
    was accepted, the `invite.accepted` message whose handling grants the
    role. An email change replaces the token and gives the new one back."""
    changes = validate(InviteUpdate, data, "invite update", sent_only=True)
    if not changes:
        raise InvalidRoleData("invalid invite update: send status, role or email")
    invite = _find(session, invite_id, lock=True)
    if is_answer(changes):
        return _respond(session, actor_id, invite, changes["status"])
    return _amend(session, actor_id, invite, changes)


def is_answer(changes):
    """Whether an update answers the invite (its `status`, sent alone)
    rather than amends it; a status sent with anything else is refused."""
    if "status" not in changes:
        return False
    if set(changes) != {"status"}:
        raise InvalidRoleData("an invite's status is changed on its own, not with "
                              + ", ".join(sorted(set(changes) - {"status"})))
    return True


def respond_by_token(session, actor_id, token, status):
    """Accept or decline through the emailed link: the token finds the
    invite, and the signed-in user must still be its invitee."""
    if status not in ("accepted", "declined"):
        raise InvalidRoleData(f"status must be accepted or declined, not {status!r}")
    if not isinstance(token, str) or not token.isascii():
        raise InviteNotFound("no invite has this token")
    invite = session.scalars(
        select(RoleInvite).where(RoleInvite.token_hash == _hash(token)).with_for_update()
    ).first()
    if invite is None:
        raise InviteNotFound("no invite has this token")
    return _respond(session, actor_id, invite, status)


def _respond(session, actor_id, invite, status):
    check_answer(invite, by_invitee=_is_invitee(session, actor_id, invite))
    team.live_event(session, invite.event_id)
    invite.status = status
    invite.responded_at = datetime.now(UTC)
    accepted = None
    if status == "accepted":
        accepted = InviteAccepted(invite_id=invite.id, event_id=invite.event_id,
                                  user_id=_user_id(actor_id), email=invite.email,
                                  role=invite.role)
        outbox.add(session, accepted)
    session.flush()
    return serialize_invite(invite), accepted


def delete_invite(session, actor_id, invite_id):
    invite = _find(session, invite_id, lock=True)
    _require_manager(session, actor_id, invite.event_id, "to delete its invites", invite.role)
    check_deletable(invite)
    session.delete(invite)
    return {"id": invite.id, "deleted": True}


def _amend(session, actor_id, invite, changes):
    email, role = changes.get("email", invite.email), changes.get("role", invite.role)
    if _is_invitee(session, actor_id, invite) and not has_access(
            session, actor_id, Permission.IS_ORGANIZER, invite.event_id):
        raise AccessDenied("the invitee can change only the invite's status")
    _require_manager(session, actor_id, invite.event_id, "to change its invites",
                     invite.role, role)
    refuse_if_closed(invite)
    _refuse_if_role_held(session, invite.event_id, email, role)
    _expire_lapsed(session, invite.event_id, email)
    secret = {}
    if email != invite.email:
        token, invite.token_hash = _new_token()
        secret = _secret(token)
    invite.email, invite.role = email, role
    _flush_refusing_duplicates(session, invite)
    return {**serialize_invite(invite), **secret}, None


def manager_permission(*roles):
    """What creating, amending or deleting an invite to any of `roles`
    needs: the owner if one of them is `owner`, else an organizer+."""
    return Permission.IS_OWNER if Role.OWNER in roles else Permission.IS_ORGANIZER


def _require_manager(session, actor_id, event_id, to, *roles):
    permission = manager_permission(*roles)
    if permission == Permission.IS_OWNER:
        to = f"{to} an owner"
    return require(session, actor_id, permission, event_id, to=to)


def _find(session, invite_id, lock=False):
    if as_id(invite_id) is None:
        raise InvalidRoleData(f"invite_id must be an invite id, not {invite_id!r}")
    invite = session.get(RoleInvite, as_id(invite_id), with_for_update=lock or None)
    if invite is None:
        raise InviteNotFound(f"no invite {invite_id!r}")
    return invite


def _is_invitee(session, actor_id, invite):
    return session.scalar(select(User.email).where(User.id == _user_id(actor_id))) == invite.email


def _user_id(actor_id):
    if as_id(actor_id) is None:
        raise InvalidRoleData(f"actor_id must be a user id, not {actor_id!r}")
    return as_id(actor_id)


def check_answer(invite, by_invitee):
    """An answer (accept or decline) is the invitee's alone, and only to
    a pending invite."""
    if not by_invitee:
        raise AccessDenied("only the invitee can accept or decline an invite")
    refuse_if_closed(invite)


def refuse_if_closed(invite):
    status = effective_status(invite)
    if status != "pending":
        raise InviteClosed(f"the invite is {status} and can no longer change")


def check_deletable(invite):
    """Any invite but an accepted one may be withdrawn."""
    if invite.status == "accepted":
        raise InviteClosed("an accepted invite cannot be deleted: its role is granted")


def _refuse_if_role_held(session, event_id, email, role):
    held = session.scalar(select(exists().where(
        EventRole.event_id == event_id, EventRole.role == role,
        EventRole.user_id == User.id, User.email == email,
    )))
    if held:
        raise InviteExists(f"{email} is {role} of event {event_id} already")


def _expire_lapsed(session, event_id, email):
    """Mark the expired pending invite of this email, if any, as expired,
    so that a new one may be made."""
    session.execute(
        update(RoleInvite)
        .where(RoleInvite.event_id == event_id, RoleInvite.email == email,
               RoleInvite.status == "pending", RoleInvite.expires_at <= func.now())
        .values(status="expired")
    )


def _flush_refusing_duplicates(session, invite):
    email, event_id = invite.email, invite.event_id  # a failed flush expires the invite
    try:
        session.flush()
    except IntegrityError as exc:
        if isinstance(exc.orig, UniqueViolation):
            raise InviteExists(
                f"{email} has a pending invite to event {event_id} already") from None
        raise


def _new_token():
    token = secrets.token_urlsafe(32)
    return token, _hash(token)


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _secret(token):
    return {"token": token, "accept_path": ACCEPT_PATH.format(token=token)}


def effective_status(invite):
    if invite.status == "pending" and invite.expires_at <= datetime.now(UTC):
        return "expired"
    return invite.status


def serialize_invite(invite):
    return {"id": invite.id, "event_id": invite.event_id, "email": invite.email,
            "role": invite.role, "status": effective_status(invite),
            "expires_at": iso_utc(invite.expires_at), "created_by": invite.created_by,
            "created_at": iso_utc(invite.created_at), "responded_at": iso_utc(invite.responded_at)}
