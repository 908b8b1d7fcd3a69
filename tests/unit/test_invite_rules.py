"""The rules of role invites (services.roles.invites) that need no
database: an invite's effective status, who may answer, amend or delete
it, and that a closed invite changes no more."""
from datetime import UTC, datetime, timedelta

import pytest

from contracts.errors import AccessDenied
from contracts.roles.errors import InvalidRoleData, InviteClosed
from contracts.vocabulary import Permission, Role
from services.roles.invites import (
    check_answer,
    check_deletable,
    effective_status,
    is_answer,
    manager_permission,
    refuse_if_closed,
    serialize_invite,
)
from services.roles.models import RoleInvite

NOW = datetime.now(UTC)
LATER, EARLIER = NOW + timedelta(days=7), NOW - timedelta(seconds=1)


def invite(status="pending", expires_at=LATER, role="organizer"):
    return RoleInvite(id=1, event_id=10, email="ana@example.org", role=role, status=status,
                      event_name="Open Tech Summit", token_hash="f" * 64,
                      expires_at=expires_at, created_by=2, created_at=NOW)


# effective status

@pytest.mark.parametrize("status, expires_at, effective", [
    ("pending", LATER, "pending"),
    ("pending", EARLIER, "expired"),   # a pending invite past its time has expired
    ("accepted", EARLIER, "accepted"),  # an answer stays what it was
    ("declined", EARLIER, "declined"),
    ("expired", LATER, "expired"),      # lapsed by a newer invite or an ownership transfer
])
def test_the_effective_status(status, expires_at, effective):
    assert effective_status(invite(status, expires_at)) == effective


def test_an_invite_is_shown_with_its_effective_status_and_never_its_token():
    shown = serialize_invite(invite(expires_at=EARLIER), inviter_name="Ben")

    assert shown["status"] == "expired"
    assert (shown["event_name"], shown["inviter_name"]) == ("Open Tech Summit", "Ben")
    assert "token" not in shown and "token_hash" not in shown
    assert "f" * 64 not in shown.values()


# answering: accept or decline

def test_the_invitee_may_answer_a_pending_invite():
    check_answer(invite(), by_invitee=True)


@pytest.mark.parametrize("status", ["pending", "accepted", "declined"])
def test_nobody_but_the_invitee_may_answer_and_that_is_said_first(status):
    with pytest.raises(AccessDenied, match="only the invitee"):
        check_answer(invite(status), by_invitee=False)


@pytest.mark.parametrize("status, expires_at", [
    ("accepted", LATER), ("declined", LATER), ("expired", LATER), ("pending", EARLIER),
])
def test_a_closed_invite_is_answered_no_more(status, expires_at):
    closed = invite(status, expires_at)

    with pytest.raises(InviteClosed, match=f"is {effective_status(closed)}"):
        check_answer(closed, by_invitee=True)
    with pytest.raises(InviteClosed):
        refuse_if_closed(closed)  # nor amended


@pytest.mark.parametrize("changes, answers", [
    ({"status": "accepted"}, True),
    ({"status": "declined"}, True),
    ({"role": "moderator"}, False),
    ({"email": "bob@example.org"}, False),
    ({"role": "moderator", "email": "bob@example.org"}, False),
])
def test_an_update_answers_with_its_status_or_amends_with_role_and_email(changes, answers):
    assert is_answer(changes) is answers


@pytest.mark.parametrize("others", [{"role": "owner"}, {"email": "me@example.org"}])
def test_a_status_is_changed_alone(others):
    with pytest.raises(InvalidRoleData, match=f"not with {next(iter(others))}"):
        is_answer({"status": "accepted", **others})


# creating, amending, deleting

@pytest.mark.parametrize("roles, needed", [
    (["organizer"], Permission.IS_ORGANIZER),
    (["coorganizer"], Permission.IS_ORGANIZER),
    (["registrar"], Permission.IS_ORGANIZER),
    (["owner"], Permission.IS_OWNER),                   # inviting an owner
    (["organizer", "moderator"], Permission.IS_ORGANIZER),  # amending a role
    (["owner", "organizer"], Permission.IS_OWNER),      # from owner
    (["organizer", "owner"], Permission.IS_OWNER),      # to owner
])
def test_invites_are_managed_by_organizers_and_owner_invites_by_the_owner(roles, needed):
    assert manager_permission(*roles) == needed


def test_every_role_but_owner_is_managed_by_an_organizer():
    assert {role for role in Role if manager_permission(role) == Permission.IS_ORGANIZER} == (
        set(Role) - {Role.OWNER})


@pytest.mark.parametrize("status, expires_at", [
    ("pending", LATER), ("pending", EARLIER), ("declined", LATER), ("expired", LATER),
])
def test_any_invite_but_an_accepted_one_may_be_deleted(status, expires_at):
    check_deletable(invite(status, expires_at))


def test_an_accepted_invite_is_not_deleted_its_role_is_granted():
    with pytest.raises(InviteClosed, match="role is granted"):
        check_deletable(invite("accepted"))
