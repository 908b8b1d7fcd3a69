"""Error base classes that cross RPC as themselves.

Every subclass is registered with nameko's exception registry when it is
defined, so an RPC caller that imports the class receives an instance of it
(not a `RemoteError`). Errors carry one argument, a human-readable detail;
`code` is the stable machine code the gateway puts in problem+json bodies.
"""
from nameko.exceptions import deserialize_to_instance


class ServiceError(Exception):
    code = "error"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        deserialize_to_instance(cls)

    def __init__(self, detail=""):
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ServiceError):
    code = "invalid_input"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class PermissionDenied(ServiceError):
    code = "permission_denied"


class CallerNotAllowed(PermissionDenied):
    """The calling service (the request's AMQP `user_id`, which RabbitMQ
    verifies) is not one the method answers (`@rpc(callers=...)`)."""

    code = "caller_not_allowed"


class Unauthenticated(ServiceError):
    """No bearer token, one that is expired, tampered with or unsigned, or
    whose sign-in has ended."""

    code = "unauthenticated"


class Throttled(ServiceError):
    """Asked again too soon; `retry_after` seconds is when it may be."""

    code = "throttled"
    retry_after = 60


class Unavailable(ServiceError):
    code = "unavailable"


class Outage(Unavailable):
    """The database or the broker cannot be reached: it will pass, and the
    request or message that met it is not at fault (handlers retry it
    without counting the attempt, see shared.handlers)."""


deserialize_to_instance(ServiceError)
