"""Teams that can be run: an organizer+ changes a member's role or removes
them, a member leaves, each at once and announced (`role.changed`,
`role.revoked`); the owner's role is fixed; a user lists the events they
are on with their strongest role there. Real PostgreSQL and RabbitMQ,
real events service."""
import eventlet
import pytest
from eventlet.event import Event
from sqlalchemy import func, select, update

from contracts.errors import AccessDenied, EventNotFound
from contracts.roles.errors import InvalidRoleData, MemberNotFound, OwnerRoleFixed
from services.roles import members
from services.roles.models import EventRole, KnownEvent, RoleInvite
from tests.support.services import proof_of


def held(session, event, user):
    """The roles `user` holds on `event`, by name."""
    return sorted(session.scalars(select(EventRole.role).where(
        EventRole.event_id == event["id"], EventRole.user_id == user["id"])))


def pending_invites(session, event, email):
    return session.scalar(select(func.count()).select_from(RoleInvite).where(
        RoleInvite.event_id == event["id"], RoleInvite.email == email,
        RoleInvite.status == "pending"))


def pick(mapping, *keys):
    return {key: mapping[key] for key in keys}


def at_once(roles, actor, method, *calls):
    """Run `method` with each of `calls` (argument tuples) at once, in
    workers of their own, for `actor`; their answers."""
    [entrypoint] = [entrypoint for entrypoint in roles.container.entrypoints
                    if entrypoint.method_name == method]
    done = [Event() for _ in calls]
    for args, finished in zip(calls, done, strict=True):
        def handle_result(worker_ctx, result=None, exc_info=None, finished=finished):
            finished.send(result, exc_info)
            return result, exc_info
        roles.container.spawn_worker(entrypoint, args, {}, context_data=proof_of(actor),
                                     handle_result=handle_result)
    return [finished.wait() for finished in done]


def change(roles, by, event, user, role):
    return roles.acting(by["id"]).change_role(event["id"], user["id"], role)


def remove(roles, by, event, user):
    return roles.acting(by["id"]).remove_member(event["id"], user["id"])


# changing a role


def test_a_changed_role_is_answered_announced_and_holds_at_once(
        roles, roles_session, tap, owner, event, member):
    changed = tap("role.changed")
    ben = member("coorganizer")

    answer = change(roles, owner, event, ben, "registrar")

    assert answer == {"user_id": ben["id"], "email": ben["email"], "role": "registrar"}
    assert held(roles_session, event, ben) == ["registrar"]
    assert roles.has_access(ben["id"], "is_coorganizer", event["id"]) is False
    assert roles.has_access(ben["id"], "checks_in", event["id"]) is True
    routing_key, payload = changed.next()
    assert routing_key == "role.changed"
    assert pick(payload, "event_id", "user_id", "role", "previous_role", "actor_id") == {
        "event_id": event["id"], "user_id": ben["id"], "role": "registrar",
        "previous_role": "coorganizer", "actor_id": owner["id"]}


def test_a_promotion_holds_at_once_too(roles, owner, event, member):
    ben = member("registrar")
    assert roles.has_access(ben["id"], "is_organizer", event["id"]) is False

    change(roles, owner, event, ben, "organizer")

    assert roles.has_access(ben["id"], "is_organizer", event["id"]) is True


def test_an_organizer_may_change_a_role(roles, roles_session, event, member):
    organizer, ben = member("organizer"), member("moderator")

    change(roles, organizer, event, ben, "track_organizer")

    assert held(roles_session, event, ben) == ["track_organizer"]


@pytest.mark.parametrize("who", ["coorganizer", "registrar", "stranger"])
def test_below_organizer_nobody_changes_a_role(roles, roles_session, event, member, who):
    actor, ben = (member() if who == "stranger" else member(who)), member("registrar")

    with pytest.raises(AccessDenied):
        change(roles, actor, event, ben, "coorganizer")

    assert held(roles_session, event, ben) == ["registrar"]


def test_a_coorganizer_may_not_raise_themselves(roles, roles_session, event, member):
    cy = member("coorganizer")

    with pytest.raises(AccessDenied):
        change(roles, cy, event, cy, "organizer")

    assert held(roles_session, event, cy) == ["coorganizer"]


def test_a_member_of_several_roles_is_left_the_new_one_alone(
        roles, roles_session, tap, owner, event, member):
    changed = tap("role.changed")
    ben = member("registrar", "coorganizer", "moderator")

    change(roles, owner, event, ben, "moderator")

    assert held(roles_session, event, ben) == ["moderator"]
    assert changed.next()[1]["previous_role"] == "coorganizer"  # the strongest


def test_changing_to_the_one_role_held_answers_it_and_announces_nothing(
        roles, roles_session, tap, owner, event, member):
    changed = tap("role.changed")
    ben, control = member("moderator"), member("registrar")

    answer = change(roles, owner, event, ben, "moderator")
    change(roles, owner, event, control, "moderator")

    assert answer == {"user_id": ben["id"], "email": ben["email"], "role": "moderator"}
    assert held(roles_session, event, ben) == ["moderator"]
    # the relay publishes in outbox order: the first message is the control's
    assert changed.next()[1]["user_id"] == control["id"]


def test_two_changes_of_one_member_at_once_leave_them_one_role(
        roles, roles_session, owner, event, member, monkeypatch):
    ben = member("coorganizer")
    take_roles = members._take_roles

    def slow_take_roles(*args):  # the window between taking and granting
        take_roles(*args)
        eventlet.sleep(0.3)
    monkeypatch.setattr(members, "_take_roles", slow_take_roles)

    answered = [answer["role"] for answer in at_once(
        roles, owner, "change_role",
        *[(event["id"], ben["id"], role) for role in ("registrar", "moderator")])]

    assert held(roles_session, event, ben) in (["registrar"], ["moderator"])
    assert sorted(answered) == ["moderator", "registrar"]


@pytest.mark.parametrize("by", ["owner", "organizer"])
def test_the_owner_s_role_is_never_changed(roles, roles_session, owner, event, member, by):
    actor = owner if by == "owner" else member("organizer")

    with pytest.raises(OwnerRoleFixed):
        change(roles, actor, event, owner, "organizer")

    assert held(roles_session, event, owner) == ["owner"]


def test_nobody_is_made_owner_this_way(roles, roles_session, owner, event, member):
    ben = member("organizer")

    with pytest.raises(InvalidRoleData):
        change(roles, owner, event, ben, "owner")

    assert held(roles_session, event, ben) == ["organizer"]
    assert roles.has_access(owner["id"], "is_owner", event["id"]) is True


@pytest.mark.parametrize("role", ["king", "", None, ["organizer"]])
def test_a_role_that_is_none_is_refused(roles, owner, event, member, role):
    ben = member("registrar")
    with pytest.raises(InvalidRoleData):
        change(roles, owner, event, ben, role)


# who is not on the team, which event


def test_a_user_who_holds_no_role_is_no_member(roles, owner, event, sign_up):
    stranger = sign_up("stranger")
    for user_id in (stranger["id"], 987654):
        with pytest.raises(MemberNotFound):
            roles.acting(owner["id"]).change_role(event["id"], user_id, "registrar")
        with pytest.raises(MemberNotFound):
            roles.acting(owner["id"]).remove_member(event["id"], user_id)


def test_a_stranger_leaving_is_no_member_either(roles, event, sign_up):
    stranger = sign_up("stranger")
    with pytest.raises(MemberNotFound):
        remove(roles, stranger, event, stranger)


@pytest.mark.parametrize("user_id", ["abc", 0, -1, True, None])
def test_a_user_id_that_is_none_is_refused(roles, owner, event, user_id):
    with pytest.raises(InvalidRoleData):
        roles.acting(owner["id"]).change_role(event["id"], user_id, "registrar")
    with pytest.raises(InvalidRoleData):
        roles.acting(owner["id"]).remove_member(event["id"], user_id)


def test_the_team_of_an_unknown_or_deleted_event_is_not_run(
        roles, roles_session, owner, event, member):
    ben = member("registrar")
    with pytest.raises(EventNotFound):
        roles.acting(owner["id"]).change_role(event["id"] + 1000, ben["id"], "moderator")
    delete_in_roles(roles_session, event)
    with pytest.raises(EventNotFound):
        change(roles, owner, event, ben, "moderator")
    with pytest.raises(EventNotFound):
        remove(roles, ben, event, ben)
    assert held(roles_session, event, ben) == ["registrar"]


# removing and leaving


def test_a_removed_member_is_refused_at_once_and_the_removal_announced(
        roles, roles_session, tap, owner, event, member):
    revoked = tap("role.revoked")
    organizer, ben = member("organizer"), member("registrar", "coorganizer")

    answer = remove(roles, organizer, event, ben)

    assert answer == {"event_id": event["id"], "user_id": ben["id"], "removed": True}
    assert held(roles_session, event, ben) == []
    assert roles.has_access(ben["id"], "is_team_member", event["id"]) is False
    routing_key, payload = revoked.next()
    assert routing_key == "role.revoked"
    assert pick(payload, "event_id", "user_id", "role", "actor_id") == {
        "event_id": event["id"], "user_id": ben["id"], "role": "coorganizer",
        "actor_id": organizer["id"]}


def test_a_member_may_leave(roles, roles_session, tap, event, member):
    revoked = tap("role.revoked")
    ben = member("moderator")

    remove(roles, ben, event, ben)

    assert held(roles_session, event, ben) == []
    assert pick(revoked.next()[1], "user_id", "role", "actor_id") == {
        "user_id": ben["id"], "role": "moderator", "actor_id": ben["id"]}


@pytest.mark.parametrize("who", ["coorganizer", "registrar", "stranger"])
def test_below_organizer_nobody_removes_another(roles, roles_session, event, member, who):
    actor, ben = (member() if who == "stranger" else member(who)), member("registrar")

    with pytest.raises(AccessDenied):
        remove(roles, actor, event, ben)

    assert held(roles_session, event, ben) == ["registrar"]


@pytest.mark.parametrize("by", ["owner", "organizer"])
def test_the_owner_is_never_removed_nor_leaves(roles, roles_session, owner, event, member, by):
    actor = owner if by == "owner" else member("organizer")

    with pytest.raises(OwnerRoleFixed):
        remove(roles, actor, event, owner)

    assert held(roles_session, event, owner) == ["owner"]


def test_removal_withdraws_the_member_s_pending_invites_and_a_new_invite_may_follow(
        roles, roles_session, owner, event, sign_up):
    ben = sign_up("ben", verified=True)
    inviter = roles.acting(owner["id"])
    first = inviter.create_invite(event["id"], {"email": ben["email"], "role": "coorganizer"})
    roles.acting(ben["id"]).update_invite(first["id"], {"status": "accepted"})
    inviter.create_invite(event["id"], {"email": ben["email"], "role": "organizer"})
    inviter.create_invite(event["id"], {"email": "other@example.org", "role": "registrar"})

    remove(roles, owner, event, ben)

    assert pending_invites(roles_session, event, ben["email"]) == 0
    assert pending_invites(roles_session, event, "other@example.org") == 1
    again = inviter.create_invite(event["id"], {"email": ben["email"], "role": "coorganizer"})
    assert roles.acting(ben["id"]).update_invite(
        again["id"], {"status": "accepted"})["role_granted"] is True
    assert held(roles_session, event, ben) == ["coorganizer"]


# my events


def test_my_events_are_listed_with_my_strongest_role_there(
        roles, roles_session, owner, sign_up, new_event):
    ben = sign_up("ben")
    mine, theirs = new_event(ben), new_event(owner, name="Theirs")
    coorganized, moderated, gone = (new_event(owner, name=name)
                                    for name in ("Coorganized", "Moderated", "Gone"))
    for event, event_roles in ((theirs, ["registrar", "coorganizer"]),
                               (coorganized, ["coorganizer"]),
                               (moderated, ["registrar", "moderator"]), (gone, ["organizer"])):
        roles_session.add_all(EventRole(user_id=ben["id"], event_id=event["id"], role=role)
                              for role in event_roles)
    roles_session.commit()
    delete_in_roles(roles_session, gone)

    listed = roles.acting(ben["id"]).list_my_events()

    assert listed == [{"event_id": mine["id"], "role": "owner"},
                      {"event_id": theirs["id"], "role": "coorganizer"},
                      {"event_id": coorganized["id"], "role": "coorganizer"},
                      {"event_id": moderated["id"], "role": "moderator"}]
    assert roles.acting(ben["id"]).list_my_events("coorganizer") == listed[1:3]
    assert roles.acting(ben["id"]).list_my_events(role="registrar") == []
    assert roles.acting(owner["id"]).list_my_events("owner") == [
        {"event_id": event["id"], "role": "owner"}
        for event in (theirs, coorganized, moderated)]


def test_a_user_on_no_team_lists_no_events(roles, event, sign_up):
    assert roles.acting(sign_up("stranger")["id"]).list_my_events() == []


def test_a_change_shows_in_my_events_at_once(roles, owner, event, member):
    ben = member("registrar")

    change(roles, owner, event, ben, "organizer")
    assert roles.acting(ben["id"]).list_my_events() == [
        {"event_id": event["id"], "role": "organizer"}]
    remove(roles, ben, event, ben)
    assert roles.acting(ben["id"]).list_my_events() == []


@pytest.mark.parametrize("role", ["king", "", 1, ["owner"]])
def test_my_events_by_a_role_that_is_none_are_refused(roles, owner, event, role):
    with pytest.raises(InvalidRoleData):
        roles.acting(owner["id"]).list_my_events(role)


def delete_in_roles(session, event):
    """The event deleted as the roles service records `event.deleted`."""
    session.execute(update(KnownEvent).where(KnownEvent.id == event["id"])
                    .values(deleted_at=func.now()))
    session.commit()
