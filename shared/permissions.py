"""Authorization against the roles service, for the services behind the
gateway (defence in depth: a direct RPC caller cannot skip the checks).

`Permissions` is a dependency on `roles` over `shared.rpc.Rpc`: each call
waits at most `RPC_TIMEOUT` seconds, and a roles service that is not
running or does not answer gives `Unavailable`. Each service passes its
own access-denied error, so a refusal crosses RPC as that service's::

    permissions = Permissions(denied=AccessDenied)
    ...
    self.permissions.require(actor_id, Permission.IS_ORGANIZER, event_id)

(`contracts.vocabulary.Permission`). The roles service's errors arrive as
themselves where the service imports `contracts` (`UserNotFound` is a
`NotFound`). Call it between transactions, never inside one: a worker waiting on the
roles service must not hold a database connection. Validate the actor id
first (the roles service refuses a malformed one with its own error).
"""
from shared.errors import NotFound
from shared.rpc import Rpc


class Permissions(Rpc):
    def __init__(self, denied, **options):
        super().__init__("roles", **options)
        self.denied = denied

    def get_dependency(self, worker_ctx):
        return Checks(super().get_dependency(worker_ctx), self.denied)


class Checks:
    """What a worker asks of the roles service; a refusal raises `denied`."""

    def __init__(self, roles, denied):
        self._roles = roles
        self._denied = denied

    def require(self, actor_id, permission, event_id):
        """Return if the actor passes `permission` (a `Permission`) on the
        event, as `roles.has_access` decides (admins pass every check; an
        unknown user none)."""
        if not self._roles.has_access(actor_id, permission, event_id):
            raise self._denied(f"user {actor_id} does not pass {permission} on event {event_id}")

    def require_user(self, actor_id):
        """Return if the actor is a signed-up user. An id of no user is
        refused as access denied, not as bad input: it is well-formed, and
        names no one allowed to act."""
        try:
            self._roles.get_user(actor_id)
        except NotFound:
            raise self._denied(f"user {actor_id} is not signed up") from None
