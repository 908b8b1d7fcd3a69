"""A stand-in for the roles service, for tests of the services that ask it
for permissions (events, media) but are not about permissions: a real
nameko service named "roles", answering `has_access` and `get_user` over
RPC from a `Policy` the test holds. By default every user exists and
passes every check. It logs in as the roles service's broker user and
answers through `shared.rpc`, as the real one does."""
from contracts.roles.errors import UserNotFound
from shared.rpc import rpc


class Policy:
    """What the stand-in answers: `refused` users pass no check, `unknown`
    users are not signed up (and pass no check either)."""

    def __init__(self):
        self.refused = set()
        self.unknown = set()

    def has_access(self, user_id, permission, event_id):
        return user_id not in self.refused | self.unknown


class RolesStub:
    name = "roles"
    policy = Policy()  # the fixture `roles_policy` gives each test its own

    @rpc
    def has_access(self, user_id, permission, event_id):
        return self.policy.has_access(user_id, permission, event_id)

    @rpc
    def get_user(self, user_id):
        if user_id in self.policy.unknown:
            raise UserNotFound(f"no user {user_id!r}")
        return {"id": user_id, "email": f"user{user_id}@example.org", "name": f"User {user_id}",
                "is_admin": False, "created_at": "2030-01-01T00:00:00+00:00"}
