"""The gateway keeps a roles service's "yes" for a moment, never a "no"."""
from types import SimpleNamespace

from services.gateway import grants as grants_module
from services.gateway.grants import Grants


class FakeRoles:
    def __init__(self, answer):
        self.answer = answer
        self.asked = 0

    def has_access(self, user_id, permission, event_id):
        self.asked += 1
        return self.answer


def make_grants(ttl):
    grants = Grants()
    grants.container = SimpleNamespace(config={"PERMISSION_CACHE_SECONDS": ttl,
                                               "ENVIRONMENT": "test"})
    grants.setup()
    return grants


def test_a_yes_is_reused_until_it_expires(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(grants_module.time, "monotonic", lambda: now[0])
    roles = FakeRoles(True)
    has_access = make_grants(2).checker(roles)

    assert has_access(1, "is_organizer", 7) and has_access(1, "is_organizer", 7)
    assert roles.asked == 1
    now[0] += 2.5
    assert has_access(1, "is_organizer", 7)
    assert roles.asked == 2


def test_a_no_is_always_asked_again_so_a_grant_shows_at_once():
    roles = FakeRoles(False)
    has_access = make_grants(2).checker(roles)

    assert not has_access(1, "is_organizer", 7)
    roles.answer = True
    assert has_access(1, "is_organizer", 7)
    assert roles.asked == 2


def test_answers_are_kept_per_user_permission_and_event_and_not_at_all_with_ttl_0():
    roles = FakeRoles(True)
    has_access = make_grants(2).checker(roles)
    for key in [(1, "is_organizer", 7), (2, "is_organizer", 7), (1, "is_owner", 7),
                (1, "is_organizer", 8)]:
        has_access(*key)
    assert roles.asked == 4

    uncached = FakeRoles(True)
    has_access = make_grants(0).checker(uncached)
    has_access(1, "is_owner", 7)
    has_access(1, "is_owner", 7)
    assert uncached.asked == 2
