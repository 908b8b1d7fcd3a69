"""The events service's errors; each crosses RPC as itself (shared.errors).
It also raises `contracts.errors.AccessDenied` and `EventNotFound`."""
from shared.errors import Conflict, InvalidInput, NotFound, ServiceError


class ChildNotFound(NotFound):
    code = "not_found"


class UnknownKind(NotFound):
    code = "unknown_kind"


class InvalidEventData(InvalidInput):
    code = "invalid_input"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class CopyFailed(ServiceError):
    code = "copy_failed"
