"""Who holds which role once an owner invite is accepted
(services.roles.team.ownership_grants): the invitee becomes the event's
one owner and the previous owner an organizer."""
from contracts.vocabulary import Role
from services.roles.team import ownership_grants

OWNER, INVITEE, ANOTHER = 1, 2, 3


def owners(grants):
    return [user for user, role in grants if role == Role.OWNER]


def test_the_invitee_becomes_owner_and_the_previous_owner_an_organizer():
    assert ownership_grants([OWNER], INVITEE) == [(OWNER, Role.ORGANIZER), (INVITEE, Role.OWNER)]


def test_there_is_exactly_one_owner_after_any_transfer():
    for previous in ([], [OWNER], [OWNER, ANOTHER], [INVITEE], [OWNER, INVITEE]):
        assert owners(ownership_grants(previous, INVITEE)) == [INVITEE]


def test_the_owner_accepting_an_owner_invite_stays_owner_and_is_not_demoted():
    assert ownership_grants([INVITEE], INVITEE) == [(INVITEE, Role.OWNER)]


def test_an_event_without_an_owner_gets_the_invitee_as_its_owner():
    assert ownership_grants([], INVITEE) == [(INVITEE, Role.OWNER)]


def test_every_previous_owner_stays_on_the_team_as_an_organizer():
    grants = ownership_grants([OWNER, ANOTHER], INVITEE)

    assert {user for user, role in grants if role == Role.ORGANIZER} == {OWNER, ANOTHER}
