"""The gateway's account routes in front of the fake roles service: a token
is good while its sign-in is on; signing out, changing and resetting a
password end the sign-ins they should; mailed links' tokens verify and
reset; an invite is answered by its token; and nothing tells a known email
from an unknown one."""
import pytest

from contracts.roles.errors import MailTooSoon
from tests.unit.conftest import EVENT, assert_problem

PASSWORD = "correct horse"


def sign_in(gateway, email, password=PASSWORD):
    response = gateway.http.post("/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def ana(gateway):
    return gateway.roles.add_user("ana")


def test_a_token_answer_is_never_stored(gateway, ana):
    response = gateway.http.post("/v1/auth/token", json={"email": "ana@example.org",
                                                        "password": PASSWORD})

    assert response.headers["Cache-Control"] == "no-store"


def test_signing_out_ends_this_token_only(gateway, ana):
    laptop, phone = sign_in(gateway, "ana@example.org"), sign_in(gateway, "ana@example.org")

    assert gateway.http.post("/v1/auth/logout", headers=laptop).status_code == 204

    assert_problem(gateway.http.get("/v1/users/me", headers=laptop), 401, "session_ended")
    assert gateway.http.get("/v1/users/me", headers=phone).status_code == 200


def test_a_password_change_ends_every_other_sign_in(gateway, ana):
    laptop, phone = sign_in(gateway, "ana@example.org"), sign_in(gateway, "ana@example.org")

    changed = gateway.http.patch("/v1/users/me", headers=laptop, json={
        "password": "a new battery staple", "current_password": PASSWORD})

    assert changed.status_code == 200, changed.text
    assert gateway.http.get("/v1/users/me", headers=laptop).status_code == 200
    assert_problem(gateway.http.get("/v1/users/me", headers=phone), 401, "session_ended")
    sign_in(gateway, "ana@example.org", "a new battery staple")


def test_a_password_change_needs_the_current_password(gateway, ana):
    laptop = sign_in(gateway, "ana@example.org")

    alone = gateway.http.patch("/v1/users/me", headers=laptop, json={"password": "x" * 12})
    wrong = gateway.http.patch("/v1/users/me", headers=laptop, json={
        "password": "a new battery staple", "current_password": "not it"})

    assert_problem(alone, 422, "invalid_input")
    assert_problem(wrong, 422, "wrong_password")
    sign_in(gateway, "ana@example.org")


def test_a_name_change_keeps_every_sign_in(gateway, ana):
    laptop, phone = sign_in(gateway, "ana@example.org"), sign_in(gateway, "ana@example.org")

    changed = gateway.http.patch("/v1/users/me", headers=laptop, json={"name": "Ana Lee"})

    assert changed.json()["name"] == "Ana Lee"
    assert gateway.http.get("/v1/users/me", headers=phone).status_code == 200


def test_a_reset_request_answers_alike_for_known_and_unknown_emails(gateway, ana):
    known = gateway.http.post("/v1/auth/password-reset", json={"email": "ana@example.org"})
    unknown = gateway.http.post("/v1/auth/password-reset", json={"email": "nobody@example.org"})

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content) == (
        202, b"")
    assert gateway.roles.asked == [("password_reset", ana)]


def test_a_reset_sets_the_password_and_ends_every_sign_in(gateway, ana):
    laptop = sign_in(gateway, "ana@example.org")
    token = gateway.roles.password_reset_mail(ana)["token"]

    reset = gateway.http.post("/v1/auth/password-reset/confirm",
                              json={"token": token, "password": "a new battery staple"})
    again = gateway.http.post("/v1/auth/password-reset/confirm",
                              json={"token": token, "password": "yet another one"})

    assert reset.status_code == 204
    assert_problem(again, 422, "invalid_link")
    assert_problem(gateway.http.get("/v1/users/me", headers=laptop), 401, "session_ended")
    sign_in(gateway, "ana@example.org", "a new battery staple")


def test_the_mailed_token_verifies_the_email(gateway):
    signed_up = gateway.http.post("/v1/users", json={
        "email": "ben@example.org", "password": PASSWORD, "name": "Ben"}).json()
    token = gateway.roles.verification_mail(signed_up["id"])["token"]

    verified = gateway.http.post("/v1/users/verify-email", json={"token": token})

    assert signed_up["email_verified"] is False
    assert verified.status_code == 200 and verified.json()["email_verified"] is True
    assert_problem(gateway.http.post("/v1/users/verify-email", json={"token": token}), 422,
                   "invalid_link")


def test_asking_for_a_verification_mail_too_soon_is_429_with_retry_after(gateway):
    ben = gateway.roles.add_user("ben", verified=False)
    gateway.roles.fail("request_verification", MailTooSoon("one a minute"))

    response = gateway.http.post("/v1/users/me/verify-email", headers=gateway.auth(ben))

    assert_problem(response, 429, "mail_too_soon")
    assert response.headers["Retry-After"] == str(MailTooSoon.retry_after)


def test_a_verified_email_is_not_verified_again(gateway, ana):
    response = gateway.http.post("/v1/users/me/verify-email", headers=gateway.auth(ana))

    assert_problem(response, 409, "email_already_verified")


@pytest.fixture
def invite(gateway, ana):
    """A pending organizer invite to ben's email on ana's event, and ben."""
    event = gateway.events.acting(ana).create_event(EVENT)
    ben = gateway.roles.add_user("ben")
    invite = gateway.roles.acting(ana).create_invite(event["id"], {
        "email": "ben@example.org", "role": "organizer"})
    return invite, ben


def test_the_invitee_accepts_by_the_mailed_token(gateway, invite):
    invite, ben = invite
    token = gateway.roles.invite_mail(invite["id"])["token"]

    answered = gateway.http.post("/v1/role-invites/accept", headers=gateway.auth(ben),
                                 json={"token": token})

    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "accepted"
    assert gateway.roles.team[invite["event_id"], ben] == "organizer"


def test_the_invitee_declines_by_the_mailed_token(gateway, invite):
    invite, ben = invite
    token = gateway.roles.invite_mail(invite["id"])["token"]

    answered = gateway.http.post("/v1/role-invites/accept", headers=gateway.auth(ben),
                                 json={"token": token, "status": "declined"})

    assert answered.json()["status"] == "declined"
    assert (invite["event_id"], ben) not in gateway.roles.team


def test_an_unverified_invitee_cannot_accept(gateway, invite):
    invite, _ = invite
    token = gateway.roles.invite_mail(invite["id"])["token"]
    squatter = gateway.roles.add_user("squatter", verified=False)
    gateway.roles.users[squatter]["email"] = "ben@example.org"  # signed up first, never verified

    answered = gateway.http.post("/v1/role-invites/accept", headers=gateway.auth(squatter),
                                 json={"token": token})

    assert_problem(answered, 403, "email_not_verified")


def test_a_resent_invite_answers_202_and_its_old_token_is_dead(gateway, ana, invite):
    invite, ben = invite
    old = gateway.roles.invite_mail(invite["id"])["token"]

    resent = gateway.http.post(f"/v1/role-invites/{invite['id']}/resend",
                               headers=gateway.auth(ana))
    answered = gateway.http.post("/v1/role-invites/accept", headers=gateway.auth(ben),
                                 json={"token": old})

    assert resent.status_code == 202 and resent.json()["id"] == invite["id"]
    assert_problem(answered, 404, "invite_not_found")


def test_my_invites_lists_those_to_my_email_with_the_event_name(gateway, invite):
    invite, ben = invite

    mine = gateway.http.get("/v1/users/me/role-invites?status=pending",
                            headers=gateway.auth(ben))

    assert mine.status_code == 200
    assert [(i["id"], i["event_name"]) for i in mine.json()["items"]] == [
        (invite["id"], invite["event_name"])]


def test_my_invites_refuses_an_unknown_status(gateway, invite):
    _, ben = invite

    response = gateway.http.get("/v1/users/me/role-invites?status=lost",
                                headers=gateway.auth(ben))

    assert_problem(response, 422, "invalid_input")
