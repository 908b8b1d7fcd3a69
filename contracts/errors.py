"""Errors that more than one service raises, each crossing RPC as itself
(shared.errors). nameko finds an error's class by its name, so each name
exists once in the whole system."""
from shared.errors import NotFound, PermissionDenied


class AccessDenied(PermissionDenied):
    """The actor lacks the permission the change needs (roles.has_access)."""

    code = "permission_denied"


class EventNotFound(NotFound):
    code = "event_not_found"
