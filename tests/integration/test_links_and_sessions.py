"""Mailed links and sign-ins through the real RolesService: verifying an
email, what an unverified email may not do (take an invite over), the
invitee's own list, resends, answers by token, sessions, password changes
and resets, the one-a-minute limits, and the links no longer due.

Tokens come as the notifications service gets them: from `invite_mail`,
`verification_mail` and `password_reset_mail`, each of which mints one."""
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from contracts.errors import AccessDenied, EventNotFound
from contracts.roles.errors import (
    EmailAlreadyVerified,
    EmailNotVerified,
    InvalidCredentials,
    InvalidLink,
    InvalidRoleData,
    InviteClosed,
    InviteNotFound,
    MailNotDue,
    MailTooSoon,
    SessionEnded,
    UserNotFound,
    WrongPassword,
)
from services.roles.models import EventRole, KnownEvent, LinkToken, RoleInvite, Session, User
from tests.support.tap import wait_until

PASSWORD, NEW_PASSWORD = "correct horse", "battery staple"
MINUTE = timedelta(seconds=61)


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


def pick(mapping, *keys):
    return {key: mapping[key] for key in keys}


def lasts(expires_at, expected):
    """Whether an ISO `expires_at` is `expected` from now, to a minute."""
    left = datetime.fromisoformat(expires_at) - datetime.now(UTC)
    return expected - timedelta(minutes=1) < left <= expected


class Db:
    """The roles database, to arrange what only time would, and to check."""

    def __init__(self, session):
        self.session = session

    def change(self, model, key, **values):
        self.session.execute(update(model).where(key).values(**values))
        self.session.commit()

    def change_user(self, user, **values):
        self.change(User, User.id == user["id"], **values)

    def change_link(self, token, **values):
        self.change(LinkToken, LinkToken.token_hash == sha256(token), **values)

    def change_invite(self, invite, **values):
        self.change(RoleInvite, RoleInvite.id == invite["id"], **values)

    def expire(self, invite):
        self.change_invite(invite, expires_at=datetime.now(UTC) - timedelta(minutes=1))

    def age(self, user, column, by=MINUTE):
        """Move the user's `column` (a time) `by` into the past."""
        self.change_user(user, **{column.key: column - by})

    def user(self, user, column):
        self.session.expire_all()
        return self.session.scalar(select(column).where(User.id == user["id"]))

    def links(self, user):
        self.session.expire_all()
        return self.session.scalars(select(LinkToken).where(LinkToken.user_id == user["id"])).all()


@pytest.fixture
def db(roles_session):
    return Db(roles_session)


@pytest.fixture
def ana(sign_up):
    return sign_up("ana")


def verification_token(roles, user):
    return roles.verification_mail(user["id"])["token"]


def invite_token(roles, invite):
    return roles.invite_mail(invite["id"])["token"]


def reset_token(roles, user):
    roles.request_password_reset(user["email"])
    return roles.password_reset_mail(user["id"])["token"]


def is_verified(roles, user):
    return roles.acting(user).get_user(user["id"])["email_verified"]


# signing up and verifying


def test_signing_up_announces_the_new_user_with_no_token(roles, tap):
    registered = tap("user.registered")
    ben = roles.sign_up({"email": "ben@example.org", "password": PASSWORD, "name": "Ben"})

    routing_key, payload = registered.next()
    assert routing_key == "user.registered"
    assert pick(payload, "user_id", "email", "name") == {
        "user_id": ben["id"], "email": "ben@example.org", "name": "Ben"}
    assert "token" not in json.dumps(payload)
    assert ben["email_verified"] is False


def test_a_mailed_link_verifies_the_email_once(roles, db, ana):
    mail = roles.verification_mail(ana["id"])
    assert pick(mail, "to", "name") == {"to": ana["email"], "name": "Ana"}
    assert lasts(mail["expires_at"], timedelta(hours=48))

    verified = roles.verify_email(mail["token"])

    assert verified == {**ana, "email_verified": True}
    assert is_verified(roles, ana) is True
    with pytest.raises(InvalidLink):
        roles.verify_email(mail["token"])
    [row] = db.links(ana)
    assert row.token_hash == sha256(mail["token"]) and row.used_at is not None
    assert all(mail["token"] not in str(value) for value in vars(row).values())


MINTS = {"verify": verification_token, "reset": reset_token}
SPOILED = ["expired", "superseded", "minted for another email", "tampered",
           "for the other purpose"]


def spoiled(kind, roles, db, user, purpose):
    """A token of `purpose` ("verify", "reset") for the user, made no good
    in the way `kind` (one of SPOILED) says."""
    mint = MINTS[purpose]
    token = mint(roles, user)
    if kind == "expired":
        db.change_link(token, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    elif kind == "superseded":
        mint(roles, user)
    elif kind == "minted for another email":
        db.change_user(user, email="ana.new@example.org")
    elif kind == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    else:
        [other] = set(MINTS) - {purpose}
        token = MINTS[other](roles, user)
    return token


@pytest.mark.parametrize("kind", SPOILED)
def test_a_link_that_is_no_good_verifies_nothing(roles, db, ana, kind):
    token = spoiled(kind, roles, db, ana, "verify")

    with pytest.raises(InvalidLink, match="unknown, used, superseded or expired"):
        roles.verify_email(token)
    assert db.user(ana, User.email_verified_at) is None


def test_a_newer_link_verifies_where_the_one_it_superseded_does_not(roles, ana):
    first, second = verification_token(roles, ana), verification_token(roles, ana)
    with pytest.raises(InvalidLink):
        roles.verify_email(first)
    assert roles.verify_email(second)["email_verified"] is True


@pytest.mark.parametrize("token", [None, 42, "", "x" * 257, "\ud800", "nul\x00"])
def test_a_token_that_is_none_is_refused_as_bad_input(roles, token):
    with pytest.raises(InvalidRoleData, match="token"):
        roles.verify_email(token)


@pytest.mark.parametrize("token", ["ünïcode", "A" * 43])
def test_a_string_no_link_was_made_with_is_an_invalid_link(roles, token):
    with pytest.raises(InvalidLink):
        roles.verify_email(token)


def test_a_new_verification_mail_is_asked_for_at_most_once_a_minute(roles, db, tap, ana):
    requested = tap("email_verification.requested")
    with pytest.raises(MailTooSoon):  # signing up asked for the first
        roles.acting(ana).request_verification()

    db.age(ana, User.verification_requested_at)
    assert roles.acting(ana).request_verification() == {"requested": True}
    assert pick(requested.next()[1], "user_id", "email") == {
        "user_id": ana["id"], "email": ana["email"]}
    with pytest.raises(MailTooSoon):
        roles.acting(ana).request_verification()


def test_no_verification_is_due_once_the_email_is_verified(roles, db, ana, verify):
    verify(ana)
    db.age(ana, User.verification_requested_at)
    with pytest.raises(EmailAlreadyVerified):
        roles.acting(ana).request_verification()
    with pytest.raises(MailNotDue):
        roles.verification_mail(ana["id"])
    with pytest.raises(UserNotFound):
        roles.verification_mail(ana["id"] + 1000)


# an unverified email counts for nothing: no taking an invite over


@pytest.fixture
def invite(roles, owner, event):
    """`invite(email, role)` → the owner's pending invite to the event."""
    def invite(email, role="organizer"):
        return roles.acting(owner).create_invite(event["id"], {"email": email, "role": role})
    return invite


def team(db, event):
    db.session.expire_all()
    return sorted(db.session.execute(select(EventRole.user_id, EventRole.role)
                                     .where(EventRole.event_id == event["id"])).all())


def test_an_unverified_user_with_the_invitees_email_can_do_nothing_with_the_invite(
        roles, db, event, ana, invite, verify):
    sent, before = invite(ana["email"]), team(db, event)
    token = invite_token(roles, sent)
    as_ana = roles.acting(ana)

    refusals = [lambda: as_ana.get_invite(sent["id"]),
                lambda: as_ana.update_invite(sent["id"], {"status": "accepted"}),
                lambda: as_ana.update_invite(sent["id"], {"status": "declined"}),
                lambda: as_ana.respond_to_invite(token, "accepted"),
                lambda: as_ana.respond_to_invite(token, "declined"),
                lambda: as_ana.list_my_invites()]
    for refused in refusals:
        with pytest.raises(EmailNotVerified):
            refused()

    assert db.session.get(RoleInvite, sent["id"]).status == "pending"
    assert team(db, event) == before
    verify(ana)
    assert as_ana.respond_to_invite(token, "accepted")["role_granted"] is True


def test_someone_else_is_still_refused_as_not_the_invitee(roles, sign_up, invite):
    sent, sam = invite("ina@example.org"), sign_up("sam", verified=True)
    with pytest.raises(AccessDenied):
        roles.acting(sam).get_invite(sent["id"])
    with pytest.raises(AccessDenied):
        roles.acting(sam).respond_to_invite(invite_token(roles, sent), "accepted")


def test_a_coorganizer_invited_on_an_unverified_email_reads_it_as_coorganizer(
        roles, db, event, ana, invite):
    db.session.add(EventRole(user_id=ana["id"], event_id=event["id"], role="coorganizer"))
    db.session.commit()
    sent = invite(ana["email"])
    assert roles.acting(ana).get_invite(sent["id"]) == sent
    with pytest.raises(EmailNotVerified):
        roles.acting(ana).update_invite(sent["id"], {"status": "accepted"})


# my invites


def test_my_invites_are_those_to_my_email_newest_first_with_event_and_inviter(
        roles, owner, new_event, sign_up, invite):
    ina = sign_up("ina", verified=True)
    second = new_event(owner, name="Second Summit")
    first_invite = invite(ina["email"])
    invite("someone.else@example.org")
    second_invite = roles.acting(owner).create_invite(
        second["id"], {"email": ina["email"].upper(), "role": "moderator"})

    mine = roles.acting(ina).list_my_invites()

    assert mine == {"items": [second_invite, first_invite], "total": 2, "limit": 50, "offset": 0}
    assert [(item["event_name"], item["inviter_name"]) for item in mine["items"]] == [
        ("Second Summit", "Owner"), ("Open Tech Summit", "Owner")]
    assert roles.acting(ina).list_my_invites(limit=1, offset=1)["items"] == [first_invite]


def test_my_invites_are_filtered_by_their_effective_status(
        roles, db, owner, new_event, sign_up, invite):
    ina = sign_up("ina", verified=True)
    as_ina = roles.acting(ina)
    accepted = invite(ina["email"], "organizer")
    as_ina.update_invite(accepted["id"], {"status": "accepted"})
    declined = invite(ina["email"], "moderator")
    as_ina.update_invite(declined["id"], {"status": "declined"})
    expired = invite(ina["email"], "coorganizer")
    db.expire(expired)
    pending = invite(ina["email"], "registrar")  # which marks the expired one expired
    lapsed = roles.acting(owner).create_invite(
        new_event(owner, name="Elsewhere")["id"], {"email": ina["email"], "role": "owner"})
    db.expire(lapsed)  # pending in the database, past its time

    for status, invites in (("accepted", [accepted]), ("declined", [declined]),
                            ("expired", [lapsed, expired]), ("pending", [pending])):
        listed = as_ina.list_my_invites(status=status)
        assert [(item["id"], item["status"]) for item in listed["items"]] == [
            (sent["id"], status) for sent in invites], status
        assert listed["total"] == len(invites)
    assert as_ina.list_my_invites()["total"] == 5
    with pytest.raises(InvalidRoleData, match="status"):
        as_ina.list_my_invites(status="granted")


# resending, answering by token, links no longer due


def test_a_resend_kills_the_link_renews_the_invite_and_announces_it(
        roles, db, tap, owner, sign_up, invite):
    resent = tap("invite.resent")
    ina = sign_up("ina", verified=True)
    sent = invite(ina["email"])
    old_token = invite_token(roles, sent)
    db.change_invite(sent, expires_at=datetime.now(UTC) + timedelta(hours=1))

    renewed = roles.acting(owner).resend_invite(sent["id"])

    assert renewed == {**sent, "expires_at": renewed["expires_at"]}
    assert lasts(renewed["expires_at"], timedelta(days=7))
    payload = resent.next()[1]
    assert pick(payload, "invite_id", "event_id", "email", "role") == {
        "invite_id": sent["id"], "event_id": sent["event_id"], "email": ina["email"],
        "role": "organizer"}
    assert "token" not in json.dumps(payload)
    with pytest.raises(InviteNotFound):
        roles.acting(ina).respond_to_invite(old_token, "accepted")
    mail = roles.invite_mail(sent["id"])
    assert mail["expires_at"] == renewed["expires_at"]
    assert roles.acting(ina).respond_to_invite(mail["token"], "accepted")["role_granted"]


def test_only_an_organizer_resends_and_only_a_pending_invite(
        roles, db, event, owner, sign_up, invite):
    coorganizer, organizer = sign_up("co"), sign_up("org")
    for member, role in ((coorganizer, "coorganizer"), (organizer, "organizer")):
        db.session.add(EventRole(user_id=member["id"], event_id=event["id"], role=role))
    db.session.commit()
    sent, to_own = invite("ina@example.org"), invite("heir@example.org", "owner")

    for who, target in ((coorganizer, sent), (organizer, to_own)):
        with pytest.raises(AccessDenied):
            roles.acting(who).resend_invite(target["id"])
    assert roles.acting(organizer).resend_invite(sent["id"])["status"] == "pending"
    db.expire(sent)
    with pytest.raises(InviteClosed):
        roles.acting(owner).resend_invite(sent["id"])
    with pytest.raises(InviteNotFound):
        roles.acting(owner).resend_invite(sent["id"] + 1000)


def test_the_invitee_declines_by_token(roles, db, event, sign_up, invite):
    ina, before = sign_up("ina", verified=True), team(db, event)
    sent = invite(ina["email"])

    declined = roles.acting(ina).respond_to_invite(invite_token(roles, sent), "declined")

    assert pick(declined, "id", "status") == {"id": sent["id"], "status": "declined"}
    assert "role_granted" not in declined
    assert team(db, event) == before


@pytest.mark.parametrize("closed", ["accepted", "declined", "expired", "event deleted"])
def test_no_invite_mail_is_due_once_the_invite_is_closed(
        roles, db, events_beside_roles, event, owner, sign_up, invite, closed):
    ina = sign_up("ina", verified=True)
    sent = invite(ina["email"])
    token = invite_token(roles, sent)
    if closed == "expired":
        db.expire(sent)
    elif closed == "event deleted":
        events_beside_roles.acting(owner).delete_event(event["id"])
        wait_until(lambda: roles_knows_deleted(db, event))
    else:
        roles.acting(ina).respond_to_invite(token, closed)

    with pytest.raises(MailNotDue):
        roles.invite_mail(sent["id"])
    assert db.session.get(RoleInvite, sent["id"]).token_hash == sha256(token)  # unchanged
    if closed == "expired":
        with pytest.raises(InviteClosed):
            roles.acting(ina).respond_to_invite(token, "accepted")
    if closed == "event deleted":
        with pytest.raises(EventNotFound):
            roles.acting(owner).resend_invite(sent["id"])


def roles_knows_deleted(db, event):
    db.session.expire_all()
    return db.session.get(KnownEvent, event["id"]).deleted_at is not None


def test_an_invite_mail_names_the_invitee_event_inviter_and_role(roles, sign_up, invite):
    ina = sign_up("ina", verified=True)
    sent, to_stranger = invite(ina["email"], "moderator"), invite("nobody@example.org")

    mail = roles.invite_mail(sent["id"])

    assert pick(mail, "to", "name", "event_name", "inviter_name", "role", "expires_at") == {
        "to": ina["email"], "name": "Ina", "event_name": "Open Tech Summit",
        "inviter_name": "Owner", "role": "moderator", "expires_at": sent["expires_at"]}
    assert roles.invite_mail(to_stranger["id"])["name"] is None
    with pytest.raises(InviteNotFound):
        roles.invite_mail(sent["id"] + 1000)
    with pytest.raises(InvalidRoleData):
        roles.invite_mail("seven")


def test_an_owner_mail_names_the_event_s_owner_and_the_event_until_it_is_deleted(
        roles, db, events_beside_roles, event, owner):
    assert roles.owner_mail(event["id"]) == {
        "to": owner["email"], "name": "Owner", "event_name": "Open Tech Summit"}
    with pytest.raises(InvalidRoleData):
        roles.owner_mail("seven")

    events_beside_roles.acting(owner).delete_event(event["id"])
    wait_until(lambda: roles_knows_deleted(db, event))

    with pytest.raises(EventNotFound):
        roles.owner_mail(event["id"])


# sessions


def sign_in(roles, user, password=PASSWORD, lifetime=3600):
    return roles.sign_in(user["email"], password, lifetime)["session_id"]


def on(roles, user, session_id):
    """Whether the user's sign-in `session_id` is on."""
    try:
        return roles.check_session(user["id"], session_id)
    except SessionEnded:
        return False


def test_a_sign_in_is_on_until_it_is_ended(roles, ana):
    signed_in = roles.sign_in(ana["email"], PASSWORD, 3600)
    assert signed_in["user"] == ana
    session_id = signed_in["session_id"]
    assert on(roles, ana, session_id) is True

    assert roles.acting(ana).end_session(session_id) is None
    assert on(roles, ana, session_id) is False
    roles.acting(ana).end_session(session_id)  # again: nothing
    assert on(roles, ana, sign_in(roles, ana)) is True


def test_a_sign_in_ends_only_by_its_own_user(roles, sign_up, ana):
    ben = sign_up("ben")
    anas = sign_in(roles, ana)

    roles.acting(ben).end_session(anas)

    assert on(roles, ana, anas) is True
    assert on(roles, ben, anas) is False  # not ben's


def test_a_sign_in_expires(roles, db, ana):
    session_id = sign_in(roles, ana)
    db.change(Session, Session.id == session_id,
              expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert on(roles, ana, session_id) is False


@pytest.mark.parametrize("session_id", [42, None, "", "A" * 22, "no such session", "x" * 100,
                                        "nul\x00"])
def test_a_session_id_that_names_no_sign_in_is_ended(roles, ana, session_id):
    with pytest.raises(SessionEnded):
        roles.check_session(ana["id"], session_id)


def test_bad_input_to_sessions_is_refused(roles, ana):
    with pytest.raises(InvalidRoleData, match="user_id"):
        roles.check_session("ana", sign_in(roles, ana))
    for lifetime in (0, -1, "long", None):
        with pytest.raises(InvalidRoleData, match="lifetime_seconds"):
            roles.sign_in(ana["email"], PASSWORD, lifetime)
    with pytest.raises(InvalidRoleData, match="session_id"):
        roles.acting(ana).end_session(42)


def test_a_password_change_ends_every_sign_in_but_the_one_kept(roles, ana):
    first, kept, third = (sign_in(roles, ana) for _ in range(3))

    changed = roles.acting(ana).update_me(
        {"password": NEW_PASSWORD, "current_password": PASSWORD}, kept)

    assert changed == ana
    assert [on(roles, ana, s) for s in (first, kept, third)] == [False, True, False]
    assert on(roles, ana, sign_in(roles, ana, NEW_PASSWORD)) is True
    with pytest.raises(InvalidCredentials):
        sign_in(roles, ana)


def test_a_wrong_current_password_changes_nothing(roles, db, ana):
    kept, other = sign_in(roles, ana), sign_in(roles, ana)
    password_hash = db.user(ana, User.password_hash)

    with pytest.raises(WrongPassword):
        roles.acting(ana).update_me(
            {"password": NEW_PASSWORD, "current_password": "wrong horse", "name": "Eve"}, kept)

    assert db.user(ana, User.password_hash) == password_hash
    assert db.user(ana, User.name) == "Ana"
    assert on(roles, ana, other) is True


def test_a_name_change_ends_no_sign_in(roles, ana):
    kept, other = sign_in(roles, ana), sign_in(roles, ana)
    assert roles.acting(ana).update_me({"name": " Ana María "}, kept)["name"] == "Ana María"
    assert on(roles, ana, other) is True
    with pytest.raises(InvalidRoleData):
        roles.acting(ana).update_me({"email": "eve@example.org"}, kept)


# password resets


def test_a_reset_request_is_answered_alike_and_announced_only_for_a_user(
        roles, tap, ana, sign_up):
    requested, ben = tap("password_reset.requested"), sign_up("ben")
    for email in ("nobody@example.org", "not an email", ana["email"].upper()):
        assert roles.request_password_reset(email) == {"requested": True}
    roles.request_password_reset(ben["email"])

    # published in outbox order: nothing came before ana's, nor between
    assert [requested.next()[1]["user_id"] for _ in range(2)] == [ana["id"], ben["id"]]
    with pytest.raises(InvalidRoleData):
        roles.request_password_reset(None)


def test_a_reset_is_announced_at_most_once_a_minute(roles, db, tap, ana, sign_up):
    requested, ben = tap("password_reset.requested"), sign_up("ben")
    roles.request_password_reset(ana["email"])
    asked_at = db.user(ana, User.password_reset_requested_at)

    assert roles.request_password_reset(ana["email"]) == {"requested": True}  # dropped
    roles.request_password_reset(ben["email"])
    assert [requested.next()[1]["user_id"] for _ in range(2)] == [ana["id"], ben["id"]]
    assert db.user(ana, User.password_reset_requested_at) == asked_at

    db.age(ana, User.password_reset_requested_at)
    roles.request_password_reset(ana["email"])
    assert requested.next()[1]["user_id"] == ana["id"]


def test_a_reset_sets_the_password_ends_every_sign_in_and_verifies_the_email(roles, db, ana):
    sessions = [sign_in(roles, ana), sign_in(roles, ana)]
    roles.request_password_reset(ana["email"])
    mail = roles.password_reset_mail(ana["id"])
    assert pick(mail, "to", "name") == {"to": ana["email"], "name": "Ana"}
    assert lasts(mail["expires_at"], timedelta(minutes=60))

    assert roles.reset_password(mail["token"], NEW_PASSWORD) == {"reset": True}

    assert [on(roles, ana, s) for s in sessions] == [False, False]
    assert on(roles, ana, sign_in(roles, ana, NEW_PASSWORD)) is True
    assert is_verified(roles, ana) is True
    with pytest.raises(InvalidLink):
        roles.reset_password(mail["token"], "yet another one")
    with pytest.raises(MailNotDue):  # the request is done
        roles.password_reset_mail(ana["id"])


@pytest.mark.parametrize("kind", SPOILED)
def test_a_reset_link_that_is_no_good_changes_nothing(roles, db, ana, kind):
    session_id = sign_in(roles, ana)
    token = spoiled(kind, roles, db, ana, "reset")
    password_hash = db.user(ana, User.password_hash)

    with pytest.raises(InvalidLink):
        roles.reset_password(token, NEW_PASSWORD)

    assert db.user(ana, User.password_hash) == password_hash
    assert on(roles, ana, session_id) is True


def test_a_reset_refuses_a_weak_password_and_keeps_its_link(roles, ana):
    token = reset_token(roles, ana)
    with pytest.raises(InvalidRoleData, match="password"):
        roles.reset_password(token, "short")
    assert roles.reset_password(token, NEW_PASSWORD) == {"reset": True}


def test_no_reset_mail_is_due_without_a_recent_request(roles, db, ana):
    with pytest.raises(MailNotDue):
        roles.password_reset_mail(ana["id"])
    roles.request_password_reset(ana["email"])
    db.age(ana, User.password_reset_requested_at, by=timedelta(minutes=61))
    with pytest.raises(MailNotDue):
        roles.password_reset_mail(ana["id"])
    with pytest.raises(UserNotFound):
        roles.password_reset_mail(ana["id"] + 1000)
