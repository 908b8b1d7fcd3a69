"""Users through the real RolesService: sign up, sign in, read, the
admin flag, and the operator command that sets it or verifies an email.
Sessions, verification and password resets: test_links_and_sessions."""
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import argon2
import pytest
from sqlalchemy import select, update

from contracts.errors import AccessDenied
from contracts.roles.errors import EmailTaken, InvalidCredentials, InvalidRoleData, UserNotFound
from services.roles.models import User

ROOT = Path(__file__).resolve().parents[2]
ANA = {"email": "Ana@Example.org", "password": "correct horse", "name": "Ana"}


def stored(session, user_id, column):
    session.expire_all()
    return session.scalar(select(column).where(User.id == user_id))


def make_admin(session, user):
    session.execute(update(User).where(User.id == user["id"]).values(is_admin=True))
    session.commit()
    return user


def sign_in(roles, email, password):
    """The user a sign-in with these credentials answers."""
    return roles.sign_in(email, password, 3600)["user"]


def run_admin_command(db_url, *args):
    env = {**os.environ, "ROLES_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "services.roles.admin", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


# sign up


def test_signing_up_answers_the_user_without_the_password(roles):
    user = roles.sign_up(ANA)

    assert set(user) == {"id", "email", "name", "is_admin", "email_verified", "created_at"}
    assert isinstance(user["id"], int)
    assert (user["email"], user["name"], user["is_admin"], user["email_verified"]) == (
        "ana@example.org", "Ana", False, False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*\+00:00", user["created_at"])
    assert "correct horse" not in repr(user) and "argon2" not in repr(user)


def test_the_stored_password_is_an_argon2id_hash_of_it(roles, roles_session):
    user = roles.sign_up(ANA)

    password_hash = stored(roles_session, user["id"], User.password_hash)
    assert password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash
    assert argon2.PasswordHasher().verify(password_hash, "correct horse")


def test_an_email_is_stored_normalised_and_taken_whatever_its_case(roles, roles_session):
    user = roles.sign_up(ANA)
    assert stored(roles_session, user["id"], User.email) == "ana@example.org"

    for email in ("ana@example.org", " ANA@EXAMPLE.ORG "):
        with pytest.raises(EmailTaken):
            roles.sign_up({**ANA, "email": email, "name": "Another Ana"})
    assert roles_session.scalar(select(User.id).where(User.name == "Another Ana")) is None


def test_one_domain_in_unicode_or_idna_spelling_is_signed_up_once(roles):
    roles.sign_up({**ANA, "email": "ana@bücher.de"})
    with pytest.raises(EmailTaken):
        roles.sign_up({**ANA, "email": "ana@xn--bcher-kva.de"})


def test_signing_up_refuses_the_admin_flag_and_writes_nothing(roles, roles_session):
    with pytest.raises(InvalidRoleData, match="is_admin: unknown field"):
        roles.sign_up({**ANA, "is_admin": True})
    assert roles_session.scalars(select(User)).all() == []


# sign in


def test_signing_in_answers_the_user_for_any_case_of_the_email(roles):
    user = roles.sign_up(ANA)
    for email in ("ana@example.org", "ANA@EXAMPLE.ORG", "aNa@ExAmPlE.oRg"):
        assert sign_in(roles, email, "correct horse") == user


def test_an_unknown_email_and_a_wrong_password_are_refused_alike(roles):
    roles.sign_up(ANA)
    refusals = []
    for email, password in (("nobody@example.org", "correct horse"),
                            ("ana@example.org", "wrong horse"),
                            ("not-an-email", "correct horse")):
        with pytest.raises(InvalidCredentials) as caught:
            roles.sign_in(email, password, 3600)
        refusals.append((type(caught.value), caught.value.detail))
    assert refusals == [(InvalidCredentials, "wrong email or password")] * 3


def signed_up_with_a_hash_of_another_cost(roles, roles_session):
    """A new user whose stored hash was made with a cost the service no
    longer uses; the user and that hash."""
    user = roles.sign_up(ANA)
    old_hash = argon2.PasswordHasher(time_cost=2, memory_cost=2048).hash("correct horse")
    roles_session.execute(update(User).where(User.id == user["id"])
                          .values(password_hash=old_hash))
    roles_session.commit()
    return user, old_hash


def test_a_hash_of_another_cost_is_upgraded_when_its_user_signs_in(roles, roles_session):
    user, old_hash = signed_up_with_a_hash_of_another_cost(roles, roles_session)

    assert sign_in(roles, "ana@example.org", "correct horse") == user

    new_hash = stored(roles_session, user["id"], User.password_hash)
    assert new_hash != old_hash
    assert "m=1024,t=1," in new_hash  # the service's configured cost
    assert argon2.PasswordHasher().verify(new_hash, "correct horse")
    assert sign_in(roles, "ana@example.org", "correct horse") == user


def test_a_wrong_password_leaves_an_old_hash_alone(roles, roles_session):
    user, old_hash = signed_up_with_a_hash_of_another_cost(roles, roles_session)

    with pytest.raises(InvalidCredentials):
        sign_in(roles, "ana@example.org", "wrong horse")
    assert stored(roles_session, user["id"], User.password_hash) == old_hash


def test_a_user_without_a_password_hash_cannot_sign_in_with_the_decoy(roles, roles_session):
    user = roles.sign_up(ANA)
    roles_session.execute(update(User).where(User.id == user["id"]).values(password_hash=""))
    roles_session.commit()

    for password in ("correct horse", "a password nobody has"):
        with pytest.raises(InvalidCredentials):
            sign_in(roles, "ana@example.org", password)


def test_passwords_never_appear_in_the_logs(roles, caplog):
    password, wrong = "s3cret-Passw0rd-4711", "wr0ng-Passw0rd-0815"
    caplog.set_level(logging.DEBUG)

    roles.sign_up({**ANA, "password": password})
    sign_in(roles, "ana@example.org", password)
    with pytest.raises(InvalidCredentials):
        sign_in(roles, "ana@example.org", wrong)

    assert caplog.records, "nothing was logged: the check would prove nothing"
    logged = caplog.text + "".join(f"{record.getMessage()} {record.args!r}"
                                   for record in caplog.records)
    assert password not in logged and wrong not in logged


# read


def test_a_user_is_read_by_id(roles):
    user = roles.sign_up(ANA)
    assert roles.acting(user).get_user(user["id"]) == user
    assert roles.acting(user).get_user(str(user["id"])) == user


def test_an_unknown_user_is_not_found(roles):
    with pytest.raises(UserNotFound):
        roles.acting(999999).get_user(999999)


@pytest.mark.parametrize("user_id", ["ana", 0, -1, None, True, 2**63])
def test_a_bad_user_id_is_refused(roles, user_id):
    with pytest.raises(InvalidRoleData, match="user_id"):
        roles.acting(1).get_user(user_id)


# the admin flag


def test_an_admin_grants_and_revokes_the_admin_flag(roles, roles_session, sign_up):
    admin, ben = make_admin(roles_session, sign_up("admin")), sign_up("ben")

    assert roles.acting(admin["id"]).set_admin(ben["id"], True) == {**ben, "is_admin": True}
    assert roles.acting(ben).get_user(ben["id"])["is_admin"] is True
    assert roles.acting(admin["id"]).set_admin(ben["id"], False)["is_admin"] is False
    assert roles.acting(ben).get_user(ben["id"])["is_admin"] is False


def test_a_non_admin_may_not_set_the_admin_flag(roles, sign_up):
    ana, ben = sign_up("ana"), sign_up("ben")
    for actor in (ana, ben):
        with pytest.raises(AccessDenied, match="admin"):
            roles.acting(actor["id"]).set_admin(ben["id"], True)
    assert roles.acting(ben).get_user(ben["id"])["is_admin"] is False


@pytest.mark.parametrize("flag", ["true", 1, 0, None])
def test_the_admin_flag_must_be_a_boolean(roles, roles_session, sign_up, flag):
    admin, ben = make_admin(roles_session, sign_up("admin")), sign_up("ben")
    with pytest.raises(InvalidRoleData, match="is_admin"):
        roles.acting(admin["id"]).set_admin(ben["id"], flag)
    assert roles.acting(ben).get_user(ben["id"])["is_admin"] is False


def test_the_operator_command_grants_and_revokes_the_admin_flag(roles, roles_db_url, sign_up):
    ana = sign_up("ana")

    granted = run_admin_command(roles_db_url, "grant", ana["email"].upper())
    assert granted.returncode == 0, granted.stderr
    assert roles.acting(ana).get_user(ana["id"])["is_admin"] is True

    revoked = run_admin_command(roles_db_url, "revoke", ana["email"])
    assert revoked.returncode == 0, revoked.stderr
    assert roles.acting(ana).get_user(ana["id"])["is_admin"] is False


@pytest.mark.parametrize("action", ["grant", "verify"])
def test_the_operator_command_fails_for_an_unknown_email(roles, roles_db_url, sign_up, action):
    ana = sign_up("ana")

    result = run_admin_command(roles_db_url, action, "nobody@example.org")

    assert result.returncode == 1
    assert "no user nobody@example.org" in result.stderr
    assert pick(roles.acting(ana).get_user(ana["id"]), "is_admin", "email_verified") == (
        False, False)


def test_the_operator_command_verifies_an_email_once(roles, roles_db_url, roles_session,
                                                      sign_up):
    ana = sign_up("ana")

    verified = run_admin_command(roles_db_url, "verify", ana["email"].upper())
    assert verified.returncode == 0, verified.stderr
    assert f"{ana['email'].upper()}: email verified" in verified.stdout
    assert roles.acting(ana).get_user(ana["id"])["email_verified"] is True
    first = stored(roles_session, ana["id"], User.email_verified_at)

    assert run_admin_command(roles_db_url, "verify", ana["email"]).returncode == 0
    assert stored(roles_session, ana["id"], User.email_verified_at) == first


def pick(mapping, *keys):
    return tuple(mapping[key] for key in keys)
