"""The table of powers (contracts.powers) against the brief's and the
teams issue's rules, every permission for every role, every kind's powers;
and the checks' input, refused before any database is asked."""
import pytest

from contracts.powers import CHILD_POWERS, PERMISSIONS, holders
from contracts.roles.errors import InvalidRoleData
from contracts.vocabulary import CHILD_KINDS, Permission, Role
from services.roles.access import has_access

ORGANIZER_PLUS = {"owner", "organizer"}
COORGANIZER_PLUS = ORGANIZER_PLUS | {"coorganizer"}
# the brief: "organizer+" is owner or organizer, "coorganizer+" adds the
# coorganizer; the admin check is the admin flag, which no role gives. The
# lesser roles: the registrar reads orders and attendees and checks
# attendees in; the track organizer manages tracks and sessions; the
# moderator reads every session and changes a session's state
STATED = {
    "is_owner": {"owner"},
    "is_organizer": ORGANIZER_PLUS,
    "is_coorganizer": COORGANIZER_PLUS,
    "is_team_member": set(Role),
    "is_admin": set(),
    "reads_program": COORGANIZER_PLUS | {"track_organizer", "moderator"},
    "manages_program": ORGANIZER_PLUS | {"track_organizer"},
    "reviews_sessions": ORGANIZER_PLUS | {"track_organizer", "moderator"},
    "reads_registrations": COORGANIZER_PLUS | {"registrar"},
    "checks_in": ORGANIZER_PLUS | {"registrar"},
}
# kind -> (read, write, {field: permission}); every other kind:
# coorganizer+ read, organizer+ write, as before the lesser roles had powers
STATED_KINDS = {
    "tracks": ("reads_program", "manages_program", {}),
    "sessions": ("reads_program", "manages_program", {"state": "reviews_sessions"}),
    "orders": ("reads_registrations", "is_organizer", {}),
    "attendees": ("reads_registrations", "is_organizer", {"checked_in": "checks_in"}),
}
CASES = [(permission, role) for permission in Permission for role in Role]


def test_every_permission_has_a_row():
    assert set(PERMISSIONS) == set(Permission) == set(STATED)


@pytest.mark.parametrize("permission, role", CASES, ids=[f"{p}-{r}" for p, r in CASES])
def test_a_role_passes_a_permission_as_stated(permission, role):
    assert (role in PERMISSIONS[permission]) == (role in STATED[permission])


@pytest.mark.parametrize("kind", CHILD_KINDS)
def test_each_kind_grants_the_powers_stated(kind):
    powers = CHILD_POWERS[kind]
    read, write, fields = STATED_KINDS.get(kind, ("is_coorganizer", "is_organizer", {}))
    assert (powers.read, powers.write, powers.fields) == (read, write, fields)


@pytest.mark.parametrize("kind", CHILD_KINDS)
def test_whoever_writes_a_kind_reads_it_and_changes_its_lesser_fields(kind):
    powers = CHILD_POWERS[kind]
    assert PERMISSIONS[powers.write] <= PERMISSIONS[powers.read]
    for permission in powers.fields.values():
        assert PERMISSIONS[powers.write] <= PERMISSIONS[permission]


def test_an_update_of_only_lesser_fields_needs_only_their_permission():
    sessions, attendees = CHILD_POWERS["sessions"], CHILD_POWERS["attendees"]
    assert sessions.to_update({"state"}) == Permission.REVIEWS_SESSIONS
    assert sessions.to_update({"state", "title"}) == Permission.MANAGES_PROGRAM
    assert sessions.to_update(set()) == Permission.MANAGES_PROGRAM
    assert attendees.to_update({"checked_in"}) == Permission.CHECKS_IN
    assert attendees.to_update({"firstname"}) == Permission.IS_ORGANIZER


@pytest.mark.parametrize("permission", Permission)
def test_a_stronger_core_role_passes_whatever_a_weaker_one_does(permission):
    passes = PERMISSIONS[permission]
    for stronger, weaker in [(Role.OWNER, Role.ORGANIZER), (Role.ORGANIZER, Role.COORGANIZER)]:
        assert weaker not in passes or stronger in passes


def test_the_holders_of_a_permission_are_named_in_words():
    assert holders(Permission.IS_OWNER) == "owner"
    assert holders(Permission.IS_ORGANIZER) == "organizer+"
    assert holders(Permission.READS_PROGRAM) == "coorganizer+, track organizer or moderator"
    assert holders(Permission.CHECKS_IN) == "organizer+ or registrar"
    assert holders(Permission.IS_TEAM_MEMBER) == "a team member"


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
