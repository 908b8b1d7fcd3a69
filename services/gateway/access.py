"""Who may do what, as the route table says: every check is asked of the
roles service (`has_access`, its answer kept in the read cache, `reads`);
only "published and public" is read off the event itself.

Anonymous callers of a route that needs a role get 401 (sign in); signed-in
users without it get 403. A reader who is not on the team of a published,
public event sees the public view of its public kinds
(`contracts.events.schemas.PUBLIC_VIEWS`): the rows and fields anyone may
see.
"""
from contracts.errors import AccessDenied
from contracts.events.schemas import PUBLIC_VIEWS
from contracts.powers import CHILD_POWERS, holders
from contracts.vocabulary import Permission
from services.gateway.exceptions import Unauthenticated

SIGN_IN = "sign in: send 'Authorization: Bearer <token>'"


def require(has_access, actor, permission, event):
    """Refuse unless `actor` passes `permission` on `event` (an event dict)."""
    if actor is None:
        raise Unauthenticated(SIGN_IN)
    if not has_access(actor, permission, event["id"]):
        raise AccessDenied(f"you need to be {holders(permission)} of event {event['id']}")


def require_reader(has_access, actor, event):
    """Reading the event: any team member; anyone if it is published and
    public (an event shows nothing private)."""
    if not is_public(event):
        require(has_access, actor, Permission.IS_TEAM_MEMBER, event)


def sees_team_view(has_access, actor, event, kind):
    """Whether the reader of the event's children of `kind` sees the team's
    view (who reads the kind, `contracts.powers.CHILD_POWERS`) rather than
    the public one (anyone else, of a public kind of a published, public
    event); refused otherwise."""
    readers = CHILD_POWERS[kind].read
    if actor is not None and has_access(actor, readers, event["id"]):
        return True
    if is_public(event) and kind in PUBLIC_VIEWS:
        return False
    require(has_access, actor, readers, event)


def is_public(event):
    return event["state"] == "published" and event["privacy"] == "public"
