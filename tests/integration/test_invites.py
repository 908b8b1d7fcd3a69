"""Role invites through the real RolesService (and the events service that
names their events), on the real PostgreSQL and RabbitMQ: who may create,
read, amend, answer and delete them; tokens; acceptance that grants the
role before answering; owner transfer; racing acceptances. Invitees are
verified here; what an unverified one may not do, resends and the invitee's
own list: test_links_and_sessions."""
import hashlib
import json
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from contracts.errors import AccessDenied, EventNotFound
from contracts.roles.errors import InvalidRoleData, InviteClosed, InviteExists, InviteNotFound
from services.roles.models import EventRole, RoleInvite
from tests.support.broker import CallerProxy
from tests.support.services import proof_of

ACCEPT = {"status": "accepted"}


@pytest.fixture
def invitee(sign_up):
    return sign_up("ina", verified=True)


@pytest.fixture
def actor(sign_up, roles_session, event, owner, invitee):
    """`actor("organizer")` → a new user holding that role on the event;
    also "owner", "invitee" and "stranger" (no role)."""
    def actor(who):
        if who in ("owner", "invitee"):
            return owner if who == "owner" else invitee
        user = sign_up(who)
        if who != "stranger":
            roles_session.add(EventRole(user_id=user["id"], event_id=event["id"], role=who))
            roles_session.commit()
        return user
    return actor


@pytest.fixture
def invite(roles, owner, event, invitee):
    """`invite(role, email, by)` → the created invite; by default the
    owner invites the invitee as organizer."""
    def invite(role="organizer", email=None, by=owner):
        return roles.acting(by["id"]).create_invite(
            event["id"], {"email": email or invitee["email"], "role": role}
        )

    return invite


@pytest.fixture
def pending(invite):
    return invite()


@pytest.fixture
def nothing_accepted(roles, db, tap, sign_up, invite):
    """`nothing_accepted(refused, team)`: the refused invite is still
    pending, the team still `team`, and no `invite.accepted` was written for
    it: the relay publishes in outbox order, so the next one on the exchange
    (tapped before the test acts) is a later control acceptance's."""
    accepted = tap("invite.accepted")

    def check(refused, team):
        row = db.invite(refused)
        assert (row.status, row.responded_at) == ("pending", None)
        assert db.team() == team
        control_user = sign_up("control", verified=True)
        control = invite(email=control_user["email"])
        answer(roles, control_user, control)
        assert accepted.next()[1]["invite_id"] == control["id"]

    return check


def answer(roles, user, invite, status="accepted"):
    return roles.acting(user["id"]).update_invite(invite["id"], {"status": status})


def link(roles, invite):
    """The token of the invite's accept link, minted as the mailer mints it."""
    return roles.invite_mail(invite["id"])["token"]


class Db:
    """The roles database, to arrange and check what the service did."""

    def __init__(self, session, event):
        self.session, self.event = session, event

    def invite(self, invite):
        return self.session.execute(
            select(RoleInvite.__table__).where(RoleInvite.id == invite["id"])
        ).one()

    def invite_ids(self):
        return self.session.scalars(select(RoleInvite.id).order_by(RoleInvite.id)).all()

    def team(self, user=None):
        """The event's `(user_id, role)` rows (`user`'s only, if given)."""
        query = select(EventRole.user_id, EventRole.role).where(
            EventRole.event_id == self.event["id"]
        )
        if user is not None:
            query = query.where(EventRole.user_id == user["id"])
        return sorted(tuple(row) for row in self.session.execute(query))

    def expire(self, invite):
        self.session.execute(
            update(RoleInvite)
            .where(RoleInvite.id == invite["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        self.session.commit()


@pytest.fixture
def db(roles_session, event):
    return Db(roles_session, event)


def pick(mapping, *keys):
    return {key: mapping[key] for key in keys}


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


# create


@pytest.mark.parametrize("who", ["owner", "organizer"])
def test_owners_and_organizers_may_invite(actor, invite, who):
    inviter = actor(who)
    created = invite(email="guest@example.org", by=inviter)
    assert (created["email"], created["status"]) == ("guest@example.org", "pending")
    assert created["created_by"] == inviter["id"]


@pytest.mark.parametrize("who", ["coorganizer", "stranger"])
def test_coorganizers_and_strangers_may_not_invite(actor, invite, db, who):
    with pytest.raises(AccessDenied):
        invite(email="guest@example.org", by=actor(who))
    assert db.invite_ids() == []


def test_only_the_owner_may_invite_an_owner(actor, invite):
    with pytest.raises(AccessDenied):
        invite(role="owner", by=actor("organizer"))
    assert invite(role="owner")["role"] == "owner"


def test_a_new_invite_is_pending_names_its_event_and_inviter_and_never_its_token(
    roles, owner, event, pending
):
    assert pick(pending, "status", "event_name", "inviter_name") == {
        "status": "pending", "event_name": "Open Tech Summit", "inviter_name": "Owner"}
    got = roles.acting(owner["id"]).get_invite(pending["id"])
    listed = roles.acting(owner["id"]).list_invites(event["id"])["items"]
    assert got == pending and listed == [pending]
    assert not {"token", "token_hash", "accept_path"} & set(pending)
    token = link(roles, pending)
    for seen in (roles.acting(owner["id"]).get_invite(pending["id"]),
                 roles.acting(owner["id"]).list_invites(event["id"])):
        assert token not in repr(seen) and sha256(token) not in repr(seen)


def test_only_the_sha256_of_the_mailed_token_is_stored(roles, db, pending):
    unmailed = db.invite(pending).token_hash
    token = link(roles, pending)
    row = db.invite(pending)
    assert row.token_hash == sha256(token) != unmailed
    assert all(token not in str(value) for value in row)


def test_an_invite_expires_seven_days_after_it_is_made(pending):
    left = datetime.fromisoformat(pending["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=1) < left <= timedelta(days=7)


def test_a_second_pending_invite_to_an_email_is_refused_in_any_case(invite, invitee, db):
    invite()
    with pytest.raises(InviteExists):
        invite(role="moderator", email=invitee["email"].upper())
    assert len(db.invite_ids()) == 1


def test_inviting_someone_to_a_role_they_hold_is_refused(actor, invite, owner):
    with pytest.raises(InviteExists):
        invite(email=actor("organizer")["email"])
    with pytest.raises(InviteExists):
        invite(role="owner", email=owner["email"])


def test_an_expired_invite_does_not_block_a_new_one(invite, pending, db):
    db.expire(pending)
    renewed = invite()
    assert renewed["status"] == "pending" and renewed["id"] != pending["id"]
    assert db.invite(pending).status == "expired"


def test_inviting_to_an_unknown_event_is_refused(roles, owner, event):
    with pytest.raises(EventNotFound):
        roles.acting(owner["id"]).create_invite(
            event["id"] + 1000, {"email": "guest@example.org", "role": "organizer"}
        )


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not an email", "role": "organizer"},
        {"email": "a@example.org", "role": "king"},
        {"email": "a@example.org"},
        {"role": "organizer"},
        "a@example.org",
        {"email": "a@example.org", "role": "organizer", "status": "accepted"},
    ],
)
def test_an_invite_with_a_bad_role_or_email_is_refused(roles, db, owner, event, data):
    with pytest.raises(InvalidRoleData):
        roles.acting(owner["id"]).create_invite(event["id"], data)
    assert db.invite_ids() == []


def test_a_new_invite_is_announced_without_its_token(tap, invite, event):
    created_tap = tap("invite.created")
    created = invite()
    routing_key, payload = created_tap.next()
    assert routing_key == "invite.created"
    assert pick(payload, "invite_id", "event_id", "event_name", "email", "role") == {
        "invite_id": created["id"],
        "event_id": event["id"],
        "event_name": "Open Tech Summit",
        "email": created["email"],
        "role": "organizer",
    }
    assert "token" not in json.dumps(payload)


# read


@pytest.mark.parametrize("who", ["invitee", "coorganizer", "organizer", "owner"])
def test_the_invitee_and_coorganizers_may_read_an_invite(roles, actor, pending, who):
    assert roles.acting(actor(who)["id"]).get_invite(pending["id"]) == pending


@pytest.mark.parametrize("who", ["stranger", "moderator"])
def test_others_may_not_read_an_invite(roles, actor, pending, who):
    with pytest.raises(AccessDenied):
        roles.acting(actor(who)["id"]).get_invite(pending["id"])


@pytest.mark.parametrize("who", ["invitee", "moderator", "stranger"])
def test_only_coorganizers_and_above_may_list_invites(roles, actor, event, who):
    with pytest.raises(AccessDenied):
        roles.acting(actor(who)["id"]).list_invites(event["id"])


def test_coorganizers_list_invites_newest_first_a_page_at_a_time(roles, actor, event, invite):
    made = [invite(email=f"guest{n}@example.org") for n in range(3)]
    page = roles.acting(actor("coorganizer")["id"]).list_invites(event["id"], limit=2, offset=1)
    assert page == {
        "items": [made[1], made[0]],
        "total": 3,
        "limit": 2,
        "offset": 1,
    }


# update


def test_the_invitee_may_decline_and_is_granted_nothing(roles, db, owner, invitee, pending):
    declined = answer(roles, invitee, pending, "declined")
    assert declined["status"] == "declined" and declined["responded_at"]
    assert "role_granted" not in declined
    assert db.team() == [(owner["id"], "owner")]


@pytest.mark.parametrize("who", ["invitee", "owner"])
def test_a_status_is_changed_alone(roles, db, actor, pending, who):
    with pytest.raises(InvalidRoleData):
        roles.acting(actor(who)["id"]).update_invite(pending["id"], {**ACCEPT, "role": "moderator"})
    row = db.invite(pending)
    assert (row.status, row.role) == ("pending", "organizer")


@pytest.mark.parametrize("change", [{"role": "coorganizer"}, {"email": "me@example.org"}])
def test_the_invitee_may_not_change_role_or_email(roles, db, invitee, pending, change):
    with pytest.raises(AccessDenied):
        roles.acting(invitee["id"]).update_invite(pending["id"], change)
    row = db.invite(pending)
    assert (row.role, row.email) == ("organizer", invitee["email"])


@pytest.mark.parametrize("who", ["owner", "organizer"])
def test_neither_owner_nor_organizer_may_accept_for_the_invitee(
    roles, db, actor, pending, nothing_accepted, who
):
    manager = actor(who)
    team = db.team()
    with pytest.raises(AccessDenied):
        answer(roles, manager, pending)
    nothing_accepted(pending, team)


def test_an_organizer_may_change_the_role_of_a_pending_invite(roles, db, actor, pending):
    token = link(roles, pending)
    changed = roles.acting(actor("organizer")["id"]).update_invite(
        pending["id"], {"role": "moderator"}
    )
    assert changed == {**pending, "role": "moderator"}
    assert db.invite(pending).token_hash == sha256(token)  # the link mailed still works


def test_changing_the_email_kills_the_link_and_announces_a_new_one(
    roles, db, tap, actor, sign_up, invitee, pending
):
    resent = tap("invite.resent")
    newcomer, old_token = sign_up("nia", verified=True), link(roles, pending)
    changed = roles.acting(actor("organizer")["id"]).update_invite(
        pending["id"], {"email": newcomer["email"]}
    )
    assert changed == {**pending, "email": newcomer["email"]}
    assert db.invite(pending).token_hash != sha256(old_token)
    payload = resent.next()[1]
    assert pick(payload, "invite_id", "email", "role") == {
        "invite_id": pending["id"], "email": newcomer["email"], "role": "organizer"}
    assert "token" not in json.dumps(payload)
    with pytest.raises(InviteNotFound):
        roles.acting(invitee["id"]).respond_to_invite(old_token, "accepted")
    assert roles.acting(newcomer["id"]).respond_to_invite(link(roles, pending), "accepted")[
        "role_granted"
    ]


def test_changing_an_invite_to_or_from_owner_needs_the_owner(
    roles, db, actor, owner, invite, pending
):
    organizer = actor("organizer")
    owners_invite = invite(role="owner", email="heir@example.org")
    for target, change in [
        (pending, {"role": "owner"}),
        (owners_invite, {"role": "organizer"}),
        (owners_invite, {"email": "other@example.org"}),
    ]:
        with pytest.raises(AccessDenied):
            roles.acting(organizer["id"]).update_invite(target["id"], change)
    heirs = db.invite(owners_invite)
    assert (db.invite(pending).role, heirs.role, heirs.email) == (
        "organizer",
        "owner",
        "heir@example.org",
    )
    assert (
        roles.acting(owner["id"]).update_invite(pending["id"], {"role": "owner"})["role"] == "owner"
    )
    assert (
        roles.acting(owner["id"]).update_invite(owners_invite["id"], {"role": "coorganizer"})[
            "role"
        ]
        == "coorganizer"
    )


@pytest.mark.parametrize("closed", ["accepted", "declined", "expired"])
def test_a_closed_invite_no_longer_changes(roles, db, owner, invitee, pending, closed):
    if closed == "expired":
        db.expire(pending)
    else:
        answer(roles, invitee, pending, closed)
    for change in ({"role": "moderator"}, {"email": "other@example.org"}):
        with pytest.raises(InviteClosed):
            roles.acting(owner["id"]).update_invite(pending["id"], change)
    for status in ("accepted", "declined"):
        with pytest.raises(InviteClosed):
            answer(roles, invitee, pending, status)
    row = db.invite(pending)
    assert (row.role, row.email) == ("organizer", invitee["email"])
    assert row.status == ("pending" if closed == "expired" else closed)


# accept


def test_accepting_grants_the_role_before_answering_and_announces_it(
    roles, db, tap, event, invitee, pending
):
    accepted_tap = tap("invite.accepted")
    accepted = answer(roles, invitee, pending)
    assert (accepted["status"], accepted["role_granted"]) == ("accepted", True)
    assert roles.has_access(invitee["id"], "is_organizer", event["id"]) is True
    assert db.team(invitee) == [(invitee["id"], "organizer")]
    payload = accepted_tap.next()[1]
    assert pick(payload, "invite_id", "event_id", "user_id", "email", "role") == {
        "invite_id": pending["id"],
        "event_id": event["id"],
        "user_id": invitee["id"],
        "email": invitee["email"],
        "role": "organizer",
    }


def test_someone_invited_before_signing_up_accepts_after(roles, event, invite, verify):
    sent = invite(role="moderator", email="Late.Comer@Example.org")
    user = verify(roles.sign_up(
        {"email": "late.comer@example.org", "password": "correct horse", "name": "Late"}
    ))
    assert answer(roles, user, sent)["role_granted"] is True
    assert roles.has_access(user["id"], "reviews_sessions", event["id"]) is True


def test_the_invitee_may_accept_by_token(roles, event, invitee, pending):
    accepted = roles.acting(invitee["id"]).respond_to_invite(link(roles, pending), "accepted")
    assert pick(accepted, "id", "status", "role_granted") == {
        "id": pending["id"],
        "status": "accepted",
        "role_granted": True,
    }
    assert roles.has_access(invitee["id"], "is_organizer", event["id"]) is True


@pytest.mark.parametrize(
    "refusal, error",
    [
        ("another user", AccessDenied),
        ("tampered token", InviteNotFound),
        ("expired", InviteClosed),
    ],
)
def test_accepting_by_token_is_refused_and_changes_nothing(
    roles, db, sign_up, invitee, pending, nothing_accepted, refusal, error
):
    user, token = invitee, link(roles, pending)
    if refusal == "another user":
        user = sign_up("sam")
    elif refusal == "tampered token":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    else:
        db.expire(pending)
    team = db.team()
    with pytest.raises(error):
        roles.acting(user["id"]).respond_to_invite(token, "accepted")
    nothing_accepted(pending, team)


def test_accepting_an_owner_invite_transfers_ownership(roles, db, event, owner, invitee, invite):
    assert answer(roles, invitee, invite(role="owner"))["role_granted"] is True
    assert db.team() == sorted([(invitee["id"], "owner"), (owner["id"], "organizer")])
    assert roles.has_access(invitee["id"], "is_owner", event["id"]) is True
    assert roles.has_access(owner["id"], "is_owner", event["id"]) is False


# delete


@pytest.mark.parametrize("who", ["owner", "organizer"])
def test_organizers_may_delete_an_invite(roles, actor, pending, who):
    deleter = actor(who)
    assert roles.acting(deleter["id"]).delete_invite(pending["id"]) == {
        "id": pending["id"],
        "deleted": True,
    }
    with pytest.raises(InviteNotFound):
        roles.acting(deleter["id"]).get_invite(pending["id"])


@pytest.mark.parametrize("who", ["coorganizer", "stranger", "invitee"])
def test_others_may_not_delete_an_invite(roles, db, actor, pending, who):
    with pytest.raises(AccessDenied):
        roles.acting(actor(who)["id"]).delete_invite(pending["id"])
    assert db.invite(pending).status == "pending"


def test_only_the_owner_may_delete_an_owner_invite(roles, db, actor, owner, invite):
    owners_invite = invite(role="owner")
    with pytest.raises(AccessDenied):
        roles.acting(actor("organizer")["id"]).delete_invite(owners_invite["id"])
    assert db.invite(owners_invite).status == "pending"
    assert roles.acting(owner["id"]).delete_invite(owners_invite["id"])["deleted"] is True


def test_an_accepted_invite_cannot_be_deleted_but_a_declined_one_can(
    roles, db, owner, sign_up, invitee, invite, pending
):
    answer(roles, invitee, pending)
    with pytest.raises(InviteClosed):
        roles.acting(owner["id"]).delete_invite(pending["id"])
    shy = sign_up("shy", verified=True)
    declined = invite(role="moderator", email=shy["email"])
    answer(roles, shy, declined, "declined")
    assert roles.acting(owner["id"]).delete_invite(declined["id"])["deleted"] is True
    assert db.invite_ids() == [pending["id"]]


# races


def concurrently(roles, *calls):
    """Send `(method, actor, *args)` calls at once, each acting for its
    actor; each one's answer or error."""
    with ExitStack() as stack:
        replies = [
            getattr(stack.enter_context(CallerProxy(
                "roles", roles.container.config, context_data=proof_of(actor))), method
            ).call_async(*args)
            for method, actor, *args in calls]
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(reply.result())
            except Exception as exc:  # the error is the outcome
                outcomes.append(exc)
    return outcomes


def test_two_concurrent_accepts_of_one_invite_succeed_once(roles, db, invitee, pending):
    call = ("update_invite", invitee["id"], pending["id"], ACCEPT)
    outcomes = concurrently(roles, call, call)
    successes = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    assert [type(outcome) for outcome in outcomes if outcome not in successes] == [InviteClosed]
    assert [pick(success, "status", "role_granted") for success in successes] == [
        {"status": "accepted", "role_granted": True}
    ]
    assert db.team(invitee) == [(invitee["id"], "organizer")]


def test_two_owner_invites_accepted_at_once_leave_one_owner(roles, db, owner, sign_up, invite):
    heirs = [sign_up("heir", verified=True), sign_up("heir", verified=True)]
    sent = [invite(role="owner", email=heir["email"]) for heir in heirs]
    outcomes = concurrently(
        roles,
        *[
            ("update_invite", heir["id"], one["id"], ACCEPT)
            for heir, one in zip(heirs, sent, strict=True)
        ],
    )
    # both accepted, or the second found the first transfer had lapsed it
    accepted = [
        heir["id"]
        for heir, outcome in zip(heirs, outcomes, strict=True)
        if not isinstance(outcome, InviteClosed) and outcome["role_granted"]
    ]
    assert len(accepted) == 2 or [type(outcome) for outcome in outcomes].count(InviteClosed) == 1
    team = db.team()
    [new_owner] = [user for user, role in team if role == "owner"]
    assert new_owner in accepted
    others = {owner["id"], *accepted} - {new_owner}
    assert team == sorted([(new_owner, "owner")] + [(user, "organizer") for user in others])


def test_a_transfer_of_ownership_lapses_the_other_pending_owner_invites(
    roles, db, owner, sign_up, invite
):
    heirs = [sign_up("heir", verified=True), sign_up("heir", verified=True)]
    first, second = [invite(role="owner", email=heir["email"]) for heir in heirs]

    answer(roles, heirs[0], first)

    assert roles.acting(owner["id"]).get_invite(second["id"])["status"] == "expired"
    with pytest.raises(InviteClosed):
        answer(roles, heirs[1], second)
    assert [user for user, role in db.team() if role == "owner"] == [heirs[0]["id"]]
