"""The checks a service makes through the roles service (shared.permissions),
against a hand-written fake of the roles service's answers."""
import pytest

from contracts.errors import AccessDenied
from contracts.roles.errors import UserNotFound
from contracts.vocabulary import Permission
from shared.errors import Unavailable
from shared.permissions import Checks

OWNER, ORGANIZER, STRANGER, EVENT_ID = 1, 2, 3, 10


class FakeRoles:
    """Answers `has_access` from a set of grants and `get_user` from a set
    of users, as the roles service would."""

    def __init__(self, grants=(), users=(), down=False):
        self.grants, self.users, self.down = set(grants), set(users), down

    def has_access(self, user_id, permission, event_id):
        self._answer()
        return (user_id, permission, event_id) in self.grants

    def get_user(self, user_id):
        self._answer()
        if user_id not in self.users:
            raise UserNotFound(f"no user {user_id}")
        return {"id": user_id}

    def _answer(self):
        if self.down:
            raise Unavailable("roles.has_access: the service is not running")


@pytest.fixture
def checks():
    return Checks(FakeRoles(grants={(ORGANIZER, Permission.IS_ORGANIZER, EVENT_ID)},
                            users={OWNER, ORGANIZER}), denied=AccessDenied)


def test_an_actor_with_the_permission_passes(checks):
    checks.require(ORGANIZER, Permission.IS_ORGANIZER, EVENT_ID)


def test_an_actor_without_it_is_refused_with_the_services_own_error(checks):
    with pytest.raises(AccessDenied, match="user 3 does not pass is_organizer on event 10"):
        checks.require(STRANGER, Permission.IS_ORGANIZER, EVENT_ID)
    with pytest.raises(AccessDenied, match="user 2 does not pass is_owner on event 10"):
        checks.require(ORGANIZER, Permission.IS_OWNER, EVENT_ID)


def test_a_signed_up_user_passes_and_anyone_else_is_refused_as_denied(checks):
    checks.require_user(OWNER)
    with pytest.raises(AccessDenied, match="user 3 is not signed up"):
        checks.require_user(STRANGER)


def test_a_roles_service_that_cannot_answer_is_unavailable_not_a_refusal():
    checks = Checks(FakeRoles(down=True), denied=AccessDenied)
    with pytest.raises(Unavailable):
        checks.require(ORGANIZER, Permission.IS_ORGANIZER, EVENT_ID)
    with pytest.raises(Unavailable):
        checks.require_user(OWNER)
