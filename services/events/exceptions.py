"""The events service's errors; each crosses RPC as itself (shared.errors)."""
from shared.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceError


class EventNotFound(NotFound):
    code = "event_not_found"


class ChildNotFound(NotFound):
    code = "not_found"


class UnknownKind(NotFound):
    code = "unknown_kind"


class InvalidEventData(InvalidInput):
    code = "invalid_input"


class AccessDenied(PermissionDenied):
    """The actor lacks the permission the change needs (roles.has_access)."""

    code = "permission_denied"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class CopyFailed(ServiceError):
    code = "copy_failed"
