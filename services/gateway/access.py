"""Who may do what, as the route table says: every check is asked of the
roles service (`has_access`, the roles service's answer, see `grants`);
only "published and public" is read off the event itself.

Anonymous callers of a route that needs a role get 401 (sign in); signed-in
users without it get 403.
"""
from contracts.errors import AccessDenied
from contracts.vocabulary import Permission
from services.gateway.exceptions import Unauthenticated

# children anyone may read on a published, public event
PUBLIC_KINDS = frozenset({
    "tracks", "microlocations", "sponsors", "tickets", "social-links", "speakers-calls",
    "session-types", "sessions", "speakers",
})


def require(has_access, actor, permission, event):
    """Refuse unless `actor` passes `permission` on `event` (an event dict)."""
    if actor is None:
        raise Unauthenticated("sign in: send 'Authorization: Bearer <token>'")
    if not has_access(actor, permission, event["id"]):
        raise AccessDenied(f"you need to be {permission.holder} of event {event['id']}")


def require_reader(has_access, actor, event, kind=None):
    """Reading the event (`kind` None: any team member) or its children of
    `kind` (coorganizer+): a published, public event (and a public kind)
    is open to anyone."""
    if is_public(event) and (kind is None or kind in PUBLIC_KINDS):
        return
    permission = Permission.IS_TEAM_MEMBER if kind is None else Permission.IS_COORGANIZER
    require(has_access, actor, permission, event)


def is_public(event):
    return event["state"] == "published" and event["privacy"] == "public"
