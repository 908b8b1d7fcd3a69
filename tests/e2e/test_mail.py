"""People reached by mail, end to end: the five services, a real SMTP
catcher (maildev), HTTP only. An invitation arrives with a link whose token
accepts or declines it; a resent link kills the old one; only a verified
mailbox counts; sign-ins end when they should; the SMTP server away loses
and doubles nothing; no token reaches a log line."""
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.e2e.helpers import assert_problem
from tests.support.http import ACCEPT_PATH, PASSWORD, RESET_PATH, VERIFY_PATH, ok, sign_up
from tests.support.tap import wait_until

EVENT = {"name": "PyCon <Mail>", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00"}
INVITE_SUBJECT = "invites you to the team of"
SMTP_OUTAGE_SECONDS = 20


@pytest.fixture
def organizer(new_user, api):
    """A user with an event of their own: `(user, event)`."""
    user = new_user("organizer")
    return user, ok(user.api.post("/v1/events", EVENT), 201)


def invite(organizer, email, role="coorganizer"):
    user, event = organizer
    return ok(user.api.post(f"/v1/events/{event['id']}/role-invites",
                            {"email": email, "role": role}), 201)


def links(mailbox, to, path):
    """The tokens of the links to `path` in the mails to `to`, oldest first."""
    return [mailbox.link_token(mail, path) for mail in mailbox.mails(to)
            if path in mail["text"]]


def next_link(mailbox, to, path, seen=()):
    """The token of the first link to `path` mailed to `to` that is not in
    `seen`, once it has arrived."""
    return wait_until(lambda: [token for token in links(mailbox, to, path)
                               if token not in seen], timeout=15)[0]


def team_of(organizer):
    user, event = organizer
    return {member["email"]: member["role"]
            for member in ok(user.api.get(f"/v1/events/{event['id']}/roles"))["items"]}


# the whole story by mail

def test_the_invitation_arrives_and_its_link_accepts(organizer, new_user, mailbox, system):
    ben = new_user("ben", verified=True)

    created = invite(organizer, ben.email)
    mail = mailbox.wait_for(to=ben.email, subject_contains=INVITE_SUBJECT)
    token = mailbox.link_token(mail, ACCEPT_PATH)
    accepted = ok(ben.api.post("/v1/role-invites/accept", {"token": token}))

    assert "token" not in created and created["event_name"] == EVENT["name"]
    assert f"{system.base_url}{ACCEPT_PATH}?token={token}" in mail["text"]
    assert EVENT["name"] in mail["subject"] and "&lt;Mail&gt;" in mail["html"]
    assert accepted["status"] == "accepted" and accepted["role_granted"] is True
    assert team_of(organizer)[ben.email] == "coorganizer"
    assert ok(ben.api.get(f"/v1/events/{organizer[1]['id']}"))["id"] == organizer[1]["id"]


def test_the_invitee_declines_by_the_link(organizer, new_user, mailbox):
    ben = new_user("ben", verified=True)
    invite(organizer, ben.email)

    token = next_link(mailbox, ben.email, ACCEPT_PATH)
    declined = ok(ben.api.post("/v1/role-invites/accept", {"token": token,
                                                           "status": "declined"}))

    assert declined["status"] == "declined" and ben.email not in team_of(organizer)
    assert_problem(ben.api.post("/v1/role-invites/accept", {"token": token}), 409,
                   "invite_closed")


def test_a_resent_link_works_and_the_old_one_is_dead(organizer, new_user, mailbox):
    ben = new_user("ben", verified=True)
    created = invite(organizer, ben.email)
    old = next_link(mailbox, ben.email, ACCEPT_PATH)

    resent = organizer[0].api.post(f"/v1/role-invites/{created['id']}/resend")
    new = next_link(mailbox, ben.email, ACCEPT_PATH, seen={old})

    assert resent.status_code == 202
    assert_problem(ben.api.post("/v1/role-invites/accept", {"token": old}), 404,
                   "invite_not_found")
    assert ok(ben.api.post("/v1/role-invites/accept", {"token": new}))["status"] == "accepted"


def test_an_expired_invitation_link_is_refused_and_changes_nothing(
        organizer, new_user, mailbox, system):
    ben = new_user("ben", verified=True)
    created = invite(organizer, ben.email)
    token = next_link(mailbox, ben.email, ACCEPT_PATH)
    with system.engine("roles").begin() as db:
        db.execute(text("UPDATE role_invites SET expires_at = :past WHERE id = :id"),
                   {"past": datetime.now(UTC) - timedelta(minutes=1), "id": created["id"]})

    assert_problem(ben.api.post("/v1/role-invites/accept", {"token": token}), 409,
                   "invite_closed")
    assert ben.email not in team_of(organizer)


def test_my_invites_lists_the_pending_invites_with_the_event_name(organizer, new_user):
    ben = new_user("ben", verified=True)
    created = invite(organizer, ben.email, "organizer")

    mine = ok(ben.api.get("/v1/users/me/role-invites?status=pending"))

    assert [(i["id"], i["event_name"], i["role"], i["inviter_name"]) for i in mine["items"]] == [
        (created["id"], EVENT["name"], "organizer", "Organizer")]
    assert ok(ben.api.get(f"/v1/role-invites/{created['id']}"))["event_name"] == EVENT["name"]


# the takeover is closed

def test_who_signed_up_first_with_the_invitees_address_cannot_accept(
        organizer, api, mailbox):
    squatter = sign_up(api, "alice")  # with alice's address, never verified
    created = invite(organizer, squatter.email, "owner")

    assert_problem(squatter.api.patch(f"/v1/role-invites/{created['id']}",
                                      {"status": "accepted"}), 403, "email_not_verified")
    assert_problem(squatter.api.get(f"/v1/role-invites/{created['id']}"), 403,
                   "email_not_verified")
    assert_problem(squatter.api.get("/v1/users/me/role-invites"), 403, "email_not_verified")
    assert_problem(api.post("/v1/users/verify-email", {"token": "guessed"}), 422,
                   "invalid_link")
    assert ok(squatter.api.get("/v1/users/me"))["email_verified"] is False
    assert squatter.email not in team_of(organizer)


def test_the_mailbox_owner_takes_the_address_back_and_accepts(organizer, api, mailbox):
    squatter = sign_up(api, "alice")
    invite(organizer, squatter.email)
    invitation = next_link(mailbox, squatter.email, ACCEPT_PATH)

    assert api.post("/v1/auth/password-reset", {"email": squatter.email}).status_code == 202
    reset = next_link(mailbox, squatter.email, RESET_PATH)
    assert api.post("/v1/auth/password-reset/confirm",
                    {"token": reset, "password": "alice's own password"}).status_code == 204
    alice = api.as_user(ok(api.post("/v1/auth/token", {
        "email": squatter.email, "password": "alice's own password"}))["access_token"])

    assert_problem(squatter.api.get("/v1/users/me"), 401, "session_ended")
    assert ok(alice.get("/v1/users/me"))["email_verified"] is True
    assert ok(alice.post("/v1/role-invites/accept", {"token": invitation}))["status"] == "accepted"


def test_a_verification_link_is_mailed_again_at_most_once_a_minute(api, mailbox):
    ana = sign_up(api, "ana")
    first = next_link(mailbox, ana.email, VERIFY_PATH)

    too_soon = ana.api.post("/v1/users/me/verify-email")

    assert_problem(too_soon, 429, "mail_too_soon")
    assert int(too_soon.headers["Retry-After"]) > 0
    assert ok(api.post("/v1/users/verify-email", {"token": first}))["email_verified"] is True
    assert_problem(ana.api.post("/v1/users/me/verify-email"), 409, "email_already_verified")


# the SMTP server away

def test_every_mail_arrives_once_after_the_smtp_server_was_away(organizer, system, mailbox):
    emails = [f"away{n}.{organizer[1]['id']}@example.org" for n in range(5)]
    mailbox.stop()
    try:
        began = time.monotonic()
        created = [organizer[0].api.post(f"/v1/events/{organizer[1]['id']}/role-invites",
                                         {"email": email, "role": "coorganizer"})
                   for email in emails]
        wait_until(lambda: "MailServerAway" in system.log_text("notifications"), timeout=15)
        time.sleep(max(0.0, SMTP_OUTAGE_SECONDS - (time.monotonic() - began)))  # the outage
    finally:
        mailbox.start()

    assert [response.status_code for response in created] == [201] * len(emails)
    for email in emails:
        mailbox.wait_for(to=email, subject_contains=INVITE_SUBJECT, timeout=30)
    wait_until(lambda: sent_invitations(system, emails) == len(emails), timeout=15)
    assert all(len(mailbox.mails(email)) == 1 for email in emails)


def sent_invitations(system, emails):
    with system.engine("notifications").connect() as db:
        return db.scalar(text("SELECT count(*) FROM sent_mails WHERE kind = 'role_invite' "
                              "AND outcome = 'sent' AND recipient = ANY(:emails)"),
                         {"emails": emails})


# sign-ins that end

def test_signing_out_ends_this_token_and_no_other(new_user, api):
    ana = new_user("ana")
    other = ana.session()
    phone = sign_in(api, ana.email)

    assert ana.api.post("/v1/auth/logout").status_code == 204

    assert_problem(other.get("/v1/users/me"), 401, "session_ended")  # the same token
    assert ok(phone.get("/v1/users/me"))["id"] == ana.id


def test_a_password_change_ends_every_other_token(new_user, api):
    ana = new_user("ana")
    phone = sign_in(api, ana.email)

    changed = ana.api.patch("/v1/users/me", {"password": "a new staple battery",
                                             "current_password": PASSWORD})

    assert changed.status_code == 200, changed.text
    assert ok(ana.api.get("/v1/users/me"))["id"] == ana.id
    assert_problem(phone.get("/v1/users/me"), 401, "session_ended")
    assert_problem(api.post("/v1/auth/token", {"email": ana.email, "password": PASSWORD}),
                   401, "invalid_credentials")
    sign_in(api, ana.email, "a new staple battery")


def test_a_password_reset_ends_every_token(new_user, api, mailbox):
    ana, bob = new_user("ana"), new_user("bob")
    phone = sign_in(api, ana.email)

    assert api.post("/v1/auth/password-reset", {"email": ana.email}).status_code == 202
    token = next_link(mailbox, ana.email, RESET_PATH)
    assert api.post("/v1/auth/password-reset/confirm",
                    {"token": token, "password": "a new staple battery"}).status_code == 204

    assert_problem(ana.api.get("/v1/users/me"), 401, "session_ended")
    assert_problem(phone.get("/v1/users/me"), 401, "session_ended")
    assert ok(bob.api.get("/v1/users/me"))["id"] == bob.id
    assert_problem(api.post("/v1/auth/password-reset/confirm",
                            {"token": token, "password": "once more, again"}), 422,
                   "invalid_link")
    sign_in(api, ana.email, "a new staple battery")


def test_a_reset_for_an_unknown_email_answers_like_a_known_one(new_user, api, mailbox):
    known = new_user("ana").email
    unknown = f"nobody.{known}"
    timings = {known: [], unknown: []}
    answers = set()
    for _ in range(10):
        for email in (known, unknown):
            began = time.perf_counter()
            response = api.post("/v1/auth/password-reset", {"email": email})
            timings[email].append(time.perf_counter() - began)
            answers.add((response.status_code, response.content))

    medians = {email: statistics.median(times) for email, times in timings.items()}
    assert answers == {(202, b"")}
    assert abs(medians[known] - medians[unknown]) < 0.02, medians
    assert len(mailbox.mails(unknown)) == 0
    wait_until(lambda: links(mailbox, known, RESET_PATH), timeout=15)


def sign_in(api, email, password=PASSWORD):
    return api.as_user(ok(api.post("/v1/auth/token", {"email": email,
                                                      "password": password}))["access_token"])


# no token in a log line

def test_no_token_of_any_kind_appears_in_any_log_line(organizer, api, mailbox, system):
    ben = sign_up(api, "ben")
    tokens = [ben.token, next_link(mailbox, ben.email, VERIFY_PATH)]
    ok(api.post("/v1/users/verify-email", {"token": tokens[-1]}))
    created = invite(organizer, ben.email)
    tokens.append(next_link(mailbox, ben.email, ACCEPT_PATH))
    organizer[0].api.post(f"/v1/role-invites/{created['id']}/resend")
    tokens.append(next_link(mailbox, ben.email, ACCEPT_PATH, seen=set(tokens)))
    ok(ben.api.post("/v1/role-invites/accept", {"token": tokens[-1]}))
    api.post("/v1/auth/password-reset", {"email": ben.email})
    tokens.append(next_link(mailbox, ben.email, RESET_PATH))
    api.post("/v1/auth/password-reset/confirm", {"token": tokens[-1], "password": "x" * 12})
    wait_until(lambda: sent_invitations(system, [ben.email]) == 2, timeout=15)

    logs = system.log_text()
    assert logs.count("\n") > 10  # the services did log
    assert [token for token in tokens if token in logs] == []
