"""Role invites: create, read, list, amend, resend, accept or decline,
delete, and the accept link's mail.

Who may do what (the seed's rules, with their holes fixed):

- create, amend (`role`, `email`), resend and delete: organizer+; anything
  that touches an owner invite: the owner;
- accept or decline (`status`, alone): only the invitee, the signed-in user
  whose email is the invite's and verified, by invite id or by the mailed
  token; an unverified email counts for nothing (EmailNotVerified);
- read: the verified invitee or coorganizer+; the token is never given
  back: only the mail carries it (`invite_mail`, `links`);
- an accepted, declined or expired invite changes no more; an accepted one
  is not deleted.

An invite is made with a dead link; the notifications service, on
`invite.created` or `invite.resent`, asks `invite_mail`, which mints the
live one. A resend or a new email kills the link at once.

Accepting records the new status and `invite.accepted` in one transaction;
the service's own handler of that message grants the role (see `team`).
"""
from datetime import UTC, datetime

from psycopg2.errors import UniqueViolation
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from contracts.errors import AccessDenied
from contracts.roles.errors import (
    EmailNotVerified,
    InvalidRoleData,
    InviteClosed,
    InviteExists,
    InviteNotFound,
    MailNotDue,
)
from contracts.roles.messages import InviteAccepted, InviteCreated, InviteResent
from contracts.roles.schemas import InviteAnswer, InviteIn, InviteQuery, InviteUpdate
from contracts.vocabulary import Permission, Role
from services.roles import links, team
from services.roles.access import has_access, require
from services.roles.models import EventRole, KnownEvent, RoleInvite, User
from services.roles.schemas import validate
from services.roles.users import get_user
from shared import outbox
from shared.ids import as_id
from shared.times import iso_utc
from shared.validation import page


def create_invite(session, actor_id, event_id, data, event_name, ttl):
    """A pending invite to the event named `event_name`, good for `ttl`;
    announces `invite.created`, on which the invitee is mailed the link."""
    values = validate(InviteIn, data, "invite")
    event = team.live_event(session, event_id)
    actor_id = _require_manager(session, actor_id, event.id, "to invite", values["role"])
    _refuse_if_role_held(session, event.id, values["email"], values["role"])
    _expire_lapsed(session, event.id, values["email"])
    invite = RoleInvite(event_id=event.id, email=values["email"], role=values["role"],
                        event_name=event_name, status="pending", token_hash=links.dead_hash(),
                        expires_at=datetime.now(UTC) + ttl, created_by=actor_id)
    session.add(invite)
    _flush_refusing_duplicates(session, invite)
    outbox.add(session, InviteCreated(invite_id=invite.id, event_id=event.id,
                                      event_name=event_name, email=invite.email,
                                      role=invite.role, expires_at=invite.expires_at))
    return _shown(session, invite)


def get_invite(session, actor_id, invite_id):
    invite = _find(session, invite_id)
    if not has_access(session, actor_id, Permission.IS_COORGANIZER, invite.event_id) and (
            not _is_verified_invitee(session, actor_id, invite)):
        raise AccessDenied(f"you need to be the invitee, or a coorganizer of event"
                           f" {invite.event_id}, to see this invite")
    return _shown(session, invite)


def list_invites(session, actor_id, event_id, limit=None, offset=None):
    """`{items, total, limit, offset}`: the event's invites, newest first."""
    window = page(limit, offset, InvalidRoleData).model_dump()
    event = team.live_event(session, event_id)
    require(session, actor_id, Permission.IS_COORGANIZER, event.id, to="to see its invites")
    return _listed(session, select(RoleInvite).where(RoleInvite.event_id == event.id), window)


def list_my_invites(session, actor_id, status=None, limit=None, offset=None):
    """`{items, total, limit, offset}`: the invites to the actor's email,
    which must be verified, newest first; those of (effective) `status`
    alone if given."""
    sent = {name: value for name, value in
            (("status", status), ("limit", limit), ("offset", offset)) if value is not None}
    window = validate(InviteQuery, sent, "invite query")
    status = window.pop("status")
    actor = get_user(session, actor_id)
    if actor.email_verified_at is None:
        raise EmailNotVerified("verify your email to see the invites to it")
    query = select(RoleInvite).where(RoleInvite.email == actor.email)
    if status is not None:
        query = query.where(_effectively(status))
    return _listed(session, query, window)


def update_invite(session, actor_id, invite_id, data):
    """Accept or decline (the invitee, `status` alone), or amend `role` and
    `email` (organizer+) of a pending invite. Returns the invite and, if it
    was accepted, the `invite.accepted` message whose handling grants the
    role. An email change kills the link and announces `invite.resent`."""
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
    """Accept or decline through the mailed link: the token finds the
    invite (not one a later link superseded), and the signed-in user must
    be its verified invitee."""
    values = validate(InviteAnswer, {"token": token, "status": status}, "invite answer")
    invite = session.scalars(
        select(RoleInvite).where(RoleInvite.token_hash == links.hash_token(values["token"]))
        .with_for_update()
    ).first()
    if invite is None:
        raise InviteNotFound("no invite has this token")
    return _respond(session, actor_id, invite, values["status"])


def resend_invite(session, actor_id, invite_id, ttl):
    """Kill a pending invite's link and renew it for `ttl`; announces
    `invite.resent`, on which a fresh link is mailed."""
    invite = _find(session, invite_id, lock=True)
    _require_manager(session, actor_id, invite.event_id, "to resend its invites", invite.role)
    refuse_if_closed(invite)
    team.live_event(session, invite.event_id)
    invite.token_hash = links.dead_hash()
    invite.expires_at = datetime.now(UTC) + ttl
    _announce_resent(session, invite)
    return _shown(session, invite)


def invite_mail(session, invite_id):
    """The mail of the invite's accept link, with a fresh token (the link
    mailed before dies). MailNotDue unless the invite is pending, unexpired
    and to an event that is not deleted."""
    invite = _find(session, invite_id, lock=True)
    status = effective_status(invite)
    if session.get(KnownEvent, invite.event_id).deleted_at is not None:
        status = "to a deleted event"
    if status != "pending":
        raise MailNotDue(f"invite {invite.id} is {status}: no mail is due")
    token, invite.token_hash = links.new_token()
    return {"to": invite.email, "token": token, "expires_at": iso_utc(invite.expires_at),
            "name": session.scalar(select(User.name).where(User.email == invite.email)),
            # invites older than migration 0003 kept no name
            "event_name": invite.event_name or f"event {invite.event_id}",
            "inviter_name": _inviter_name(session, invite),
            "role": invite.role}


def _respond(session, actor_id, invite, status):
    check_answer(invite, by_invitee=_is_verified_invitee(session, actor_id, invite))
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
    return _shown(session, invite), accepted


def delete_invite(session, actor_id, invite_id):
    invite = _find(session, invite_id, lock=True)
    _require_manager(session, actor_id, invite.event_id, "to delete its invites", invite.role)
    check_deletable(invite)
    session.delete(invite)
    return {"id": invite.id, "deleted": True}


def _amend(session, actor_id, invite, changes):
    email, role = changes.get("email", invite.email), changes.get("role", invite.role)
    if _invitee(session, actor_id, invite) is not None and not has_access(
            session, actor_id, Permission.IS_ORGANIZER, invite.event_id):
        raise AccessDenied("the invitee can change only the invite's status")
    _require_manager(session, actor_id, invite.event_id, "to change its invites",
                     invite.role, role)
    refuse_if_closed(invite)
    _refuse_if_role_held(session, invite.event_id, email, role)
    _expire_lapsed(session, invite.event_id, email)
    new_email = email != invite.email
    if new_email:
        invite.token_hash = links.dead_hash()
    invite.email, invite.role = email, role
    _flush_refusing_duplicates(session, invite)
    if new_email:
        _announce_resent(session, invite)
    return _shown(session, invite), None


def _announce_resent(session, invite):
    outbox.add(session, InviteResent(invite_id=invite.id, event_id=invite.event_id,
                                     email=invite.email, role=invite.role,
                                     expires_at=invite.expires_at))


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


def _invitee(session, actor_id, invite):
    """The actor if their email is the invite's, verified or not; else None."""
    actor = session.get(User, _user_id(actor_id))
    return actor if actor is not None and actor.email == invite.email else None


def _is_verified_invitee(session, actor_id, invite):
    """Whether the actor is the invitee; EmailNotVerified if the invite's
    email is theirs but not verified: it counts for nothing until it is."""
    invitee = _invitee(session, actor_id, invite)
    if invitee is not None and invitee.email_verified_at is None:
        raise EmailNotVerified(f"verify {invitee.email} before you answer or read its invites")
    return invitee is not None


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


def effective_status(invite):
    if invite.status == "pending" and invite.expires_at <= datetime.now(UTC):
        return "expired"
    return invite.status


def _effectively(status):
    """The SQL condition of `effective_status` being `status`."""
    lapsed = and_(RoleInvite.status == "pending", RoleInvite.expires_at <= func.now())
    if status == "pending":
        return and_(RoleInvite.status == "pending", RoleInvite.expires_at > func.now())
    if status == "expired":
        return or_(RoleInvite.status == "expired", lapsed)
    return RoleInvite.status == status


def _listed(session, query, window):
    """`{items, total, limit, offset}` of the invites `query` selects,
    newest first, `window` (`{limit, offset}`) of them: two queries."""
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.execute(
        query.add_columns(User.name).join(User, User.id == RoleInvite.created_by)
        .order_by(RoleInvite.id.desc()).limit(window["limit"]).offset(window["offset"])
    ).all()
    return {"items": [serialize_invite(invite, inviter) for invite, inviter in rows],
            "total": total, **window}


def _shown(session, invite):
    return serialize_invite(invite, _inviter_name(session, invite))


def _inviter_name(session, invite):
    return session.scalar(select(User.name).where(User.id == invite.created_by))


def serialize_invite(invite, inviter_name):
    """The invite as answers show it (never its token), `inviter_name`
    the name of the user who made it."""
    return {"id": invite.id, "event_id": invite.event_id, "email": invite.email,
            "role": invite.role, "status": effective_status(invite),
            "expires_at": iso_utc(invite.expires_at), "event_name": invite.event_name,
            "inviter_name": inviter_name, "created_by": invite.created_by,
            "created_at": iso_utc(invite.created_at), "responded_at": iso_utc(invite.responded_at)}
