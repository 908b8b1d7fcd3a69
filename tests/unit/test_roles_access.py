"""The permission table (services.roles.access.PERMISSIONS) against the
brief's rules, every permission for every role; and the checks' input,
refused before any database is asked."""
import pytest

from contracts.roles.errors import InvalidRoleData
from contracts.vocabulary import Permission, Role
from services.roles.access import PERMISSIONS, has_access

ORGANIZER_PLUS = {"owner", "organizer"}
COORGANIZER_PLUS = ORGANIZER_PLUS | {"coorganizer"}
# the brief: "organizer+" is owner or organizer, "coorganizer+" adds the
# coorganizer; each lesser role passes its own check, and so does every
# coorganizer+; the admin check is the admin flag, which no role gives
BRIEF = {
    "is_owner": {"owner"},
    "is_organizer": ORGANIZER_PLUS,
    "is_coorganizer": COORGANIZER_PLUS,
    "is_track_organizer": COORGANIZER_PLUS | {"track_organizer"},
    "is_moderator": COORGANIZER_PLUS | {"moderator"},
    "is_registrar": COORGANIZER_PLUS | {"registrar"},
    "is_team_member": set(Role),
    "is_admin": set(),
}
CASES = [(permission, role) for permission in Permission for role in Role]


def test_every_permission_has_a_row():
    assert set(PERMISSIONS) == set(Permission) == set(BRIEF)


@pytest.mark.parametrize("permission, role", CASES, ids=[f"{p}-{r}" for p, r in CASES])
def test_a_role_passes_a_permission_as_the_brief_says(permission, role):
    assert (role in PERMISSIONS[permission]) == (role in BRIEF[permission])


@pytest.mark.parametrize("permission", Permission)
def test_a_stronger_core_role_passes_whatever_a_weaker_one_does(permission):
    passes = PERMISSIONS[permission]
    for stronger, weaker in [(Role.OWNER, Role.ORGANIZER), (Role.ORGANIZER, Role.COORGANIZER)]:
        assert weaker not in passes or stronger in passes


@pytest.mark.parametrize("lesser", [Role.TRACK_ORGANIZER, Role.MODERATOR, Role.REGISTRAR])
def test_a_lesser_role_passes_its_own_check_and_being_on_the_team_only(lesser):
    passed = {permission for permission, roles in PERMISSIONS.items() if lesser in roles}

    assert passed == {Permission(f"is_{lesser}"), Permission.IS_TEAM_MEMBER}


@pytest.mark.parametrize("user_id, permission, event_id", [
    ("ana", "is_owner", 1),          # not a user id
    (0, "is_owner", 1),
    (1, "is_superuser", 1),          # no such permission
    (1, ["is_owner"], 1),
    (1, "is_owner", None),           # only the admin check goes without an event
    (1, "is_owner", "one"),
    (1, "is_admin", "one"),
])
def test_a_check_with_bad_input_is_refused_before_the_database_is_asked(
        user_id, permission, event_id):
    with pytest.raises(InvalidRoleData):
        has_access(None, user_id, permission, event_id)
