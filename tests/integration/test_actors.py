"""Who acts is proven, not claimed: a call acts only for the user its
signed proof names, for its own request, while the proof lasts; reads that
reveal emails answer only those allowed to see them."""
import pytest
from sqlalchemy import func, select

from contracts.errors import AccessDenied
from services.roles.admin import set_admin_flag
from services.roles.models import RoleInvite
from shared.actors import (
    ACTOR_KEY,
    DEVELOPMENT_SIGNING_KEY,
    ActorNotProven,
    ActorSigner,
    new_key_pair,
)
from shared.context import REQUEST_ID_KEY
from tests.support.services import Entrypoints, proof_of

INVITE = {"email": "guest@example.org", "role": "coorganizer"}


def calling_with(service, context_data):
    return Entrypoints(service.container, context_data)


def forged_proofs(user_id):
    """Context data that claims `user_id` acts, each in a way that must not hold."""
    request_id = "req-forged"
    other_key = ActorSigner(new_key_pair()[0])
    expired = ActorSigner(DEVELOPMENT_SIGNING_KEY, lifetime=-10)
    return {
        "no proof": {REQUEST_ID_KEY: request_id},
        "another key": {REQUEST_ID_KEY: request_id, ACTOR_KEY: other_key.sign(user_id, request_id)},
        "expired": {REQUEST_ID_KEY: request_id, ACTOR_KEY: expired.sign(user_id, request_id)},
        "another request": {**proof_of(user_id), REQUEST_ID_KEY: "req-other"},
    }


def invites_of(roles_session, event):
    return roles_session.scalar(select(func.count()).select_from(RoleInvite)
                                .where(RoleInvite.event_id == event["id"]))


@pytest.mark.parametrize("how", ["no proof", "another key", "expired", "another request"])
def test_a_proof_that_does_not_hold_acts_for_no_one(roles, owner, event, roles_session, how):
    forged = calling_with(roles, forged_proofs(owner["id"])[how])
    with pytest.raises(ActorNotProven):
        forged.create_invite(event["id"], INVITE)
    with pytest.raises(ActorNotProven):
        forged.get_user(owner["id"])
    assert invites_of(roles_session, event) == 0


def test_the_same_call_with_a_proof_that_holds_acts(roles, owner, event, roles_session):
    roles.acting(owner).create_invite(event["id"], INVITE)
    assert invites_of(roles_session, event) == 1


def test_a_user_is_shown_to_themselves_and_to_admins_only(roles, sign_up, roles_db_url):
    ana, ben, admin = sign_up("ana"), sign_up("ben"), sign_up("admin")
    set_admin_flag(roles_db_url, admin["email"], True)

    assert roles.acting(ana).get_user(ana["id"])["email"] == ana["email"]
    with pytest.raises(AccessDenied):
        roles.acting(ben).get_user(ana["id"])
    assert roles.acting(admin).get_user(ana["id"])["email"] == ana["email"]


def test_a_team_and_its_emails_are_shown_to_coorganizers_and_above(roles, owner, event, sign_up):
    stranger = sign_up("stranger")
    with pytest.raises(AccessDenied):
        roles.acting(stranger).list_event_roles(event["id"])
    assert [member["email"] for member in roles.acting(owner).list_event_roles(event["id"])] == [
        owner["email"]]
