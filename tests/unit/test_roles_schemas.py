"""The roles service's input schemas, and its password hashing at a cheap cost."""
import pytest

from contracts.roles.errors import InvalidRoleData, PasswordsBusy
from contracts.roles.schemas import (
    InviteAnswer,
    InviteIn,
    InviteQuery,
    InviteUpdate,
    PasswordReset,
    ProfileUpdate,
    SignUp,
)
from services.roles.passwords import PasswordHasher
from services.roles.schemas import validate
from shared.bounded import BoundedPool

SIGN_UP = {"email": "ana@example.org", "password": "correct horse", "name": "Ana"}
SIX_ROLES = ["owner", "organizer", "coorganizer", "track_organizer", "moderator", "registrar"]


def sign_up_with(**changes):
    return validate(SignUp, {**SIGN_UP, **changes}, "sign-up")


def refusal(schema, data, sent_only=False):
    with pytest.raises(InvalidRoleData) as caught:
        validate(schema, data, "thing", sent_only)
    return caught.value.detail


# emails


@pytest.mark.parametrize("sent, stored", [
    ("  ana@example.org\t", "ana@example.org"),
    ("Ana.Lopez@EXAMPLE.Org", "ana.lopez@example.org"),
    ("ÁNA@example.org", "ána@example.org"),
])
def test_an_email_is_stripped_and_lower_cased_whole(sent, stored):
    assert sign_up_with(email=sent)["email"] == stored


def test_an_email_domain_is_stored_in_idna_form():
    assert sign_up_with(email="Ana@Bücher.DE")["email"] == "ana@xn--bcher-kva.de"


def test_one_domain_in_unicode_or_idna_spelling_is_one_address():
    spellings = ("ana@Bücher.de", "ANA@BÜCHER.DE", "ana@xn--bcher-kva.de", "ANA@XN--BCHER-KVA.DE")
    assert len({sign_up_with(email=email)["email"] for email in spellings}) == 1


@pytest.mark.parametrize("email", ["not-an-email", "ana@", "@example.org", "ana@example",
                                   "ana@@example.org", "a b@example.org", "", 42, None])
def test_an_invalid_email_is_refused_by_name(email):
    assert "email:" in refusal(SignUp, {**SIGN_UP, "email": email})


def test_an_invite_email_is_normalised_and_checked_alike():
    assert validate(InviteIn, {"email": " Bo@Example.ORG ", "role": "moderator"}, "invite") == {
        "email": "bo@example.org", "role": "moderator"}
    assert "email:" in refusal(InviteIn, {"email": "bo", "role": "moderator"})


# passwords, names, fields


@pytest.mark.parametrize("length", [8, 1024])
def test_a_password_of_8_to_1024_characters_is_accepted_as_sent(length):
    password = " " + "x" * (length - 2) + " "
    assert sign_up_with(password=password)["password"] == password


@pytest.mark.parametrize("length", [0, 7, 1025])
def test_a_password_shorter_than_8_or_longer_than_1024_is_refused(length):
    assert "password:" in refusal(SignUp, {**SIGN_UP, "password": "x" * length})


def test_a_name_is_required_and_stripped():
    assert sign_up_with(name="  Ana Lopez ")["name"] == "Ana Lopez"
    assert "name: Field required" in refusal(SignUp, {"email": "a@example.org",
                                                      "password": "correct horse"})
    assert "name:" in refusal(SignUp, {**SIGN_UP, "name": "   "})
    assert "name:" in refusal(SignUp, {**SIGN_UP, "name": "x" * 256})


@pytest.mark.parametrize("field", ["is_admin", "id", "password_hash"])
def test_an_unknown_sign_up_field_is_refused_by_name(field):
    assert f"{field}: unknown field" in refusal(SignUp, {**SIGN_UP, field: True})


@pytest.mark.parametrize("field", ["email", "password", "name"])
def test_a_nul_character_is_refused(field):
    data = {**SIGN_UP, field: SIGN_UP[field][:2] + "\x00" + SIGN_UP[field][2:]}
    assert f"{field}: must not contain NUL" in refusal(SignUp, data)


# invite updates


@pytest.mark.parametrize("status", ["accepted", "declined"])
def test_an_invite_update_accepts_only_accepted_or_declined(status):
    assert validate(InviteUpdate, {"status": status}, "u", sent_only=True) == {"status": status}


@pytest.mark.parametrize("status", ["pending", "expired", "Accepted", "", 1])
def test_an_invite_update_refuses_any_other_status(status):
    assert "status:" in refusal(InviteUpdate, {"status": status}, sent_only=True)


def test_an_invite_role_is_one_of_the_six_roles():
    for role in SIX_ROLES:
        assert validate(InviteUpdate, {"role": role}, "u", sent_only=True) == {"role": role}
    for role in ("admin", "Owner", "speaker", ""):
        assert "role:" in refusal(InviteUpdate, {"role": role}, sent_only=True)
        assert "role:" in refusal(InviteIn, {"email": "bo@example.org", "role": role})


@pytest.mark.parametrize("field", ["status", "role", "email"])
def test_an_invite_update_refuses_an_explicit_null(field):
    assert f"{field}:" in refusal(InviteUpdate, {field: None}, sent_only=True)


def test_an_invite_update_holds_only_the_fields_sent_and_no_others():
    assert validate(InviteUpdate, {}, "u", sent_only=True) == {}
    assert "token: unknown field" in refusal(InviteUpdate, {"token": "x"}, sent_only=True)


# answers by token, my invites


def test_an_answer_by_token_accepts_unless_it_declines():
    assert validate(InviteAnswer, {"token": "t"}, "a") == {"token": "t", "status": "accepted"}
    assert validate(InviteAnswer, {"token": "t", "status": "declined"}, "a")["status"] == (
        "declined")
    for bad in ({"token": ""}, {"token": 7}, {"token": "t", "status": "pending"}, {}):
        assert refusal(InviteAnswer, bad)


@pytest.mark.parametrize("status", ["pending", "accepted", "declined", "expired"])
def test_my_invites_are_filtered_by_any_invite_status(status):
    assert validate(InviteQuery, {"status": status}, "q") == {
        "status": status, "limit": 50, "offset": 0}


def test_my_invites_refuse_another_status_and_a_bad_window():
    assert "status:" in refusal(InviteQuery, {"status": "granted"})
    assert "limit:" in refusal(InviteQuery, {"limit": 201})


# profile changes and resets


def test_a_profile_change_is_a_name_or_a_password_with_the_current_one():
    assert validate(ProfileUpdate, {"name": " Ana "}, "p", sent_only=True) == {"name": "Ana"}
    both = {"name": "Ana", "password": "new horse!", "current_password": "old"}
    assert validate(ProfileUpdate, both, "p", sent_only=True) == both
    assert "current_password" in refusal(ProfileUpdate, {"password": "new horse!"})
    assert "current_password" in refusal(ProfileUpdate, {"current_password": "old"})
    assert "send name" in refusal(ProfileUpdate, {})
    assert "password:" in refusal(ProfileUpdate, {"password": "short", "current_password": "x"})
    assert "email: unknown field" in refusal(ProfileUpdate, {"email": "a@example.org"})


def test_a_reset_sets_a_password_as_good_as_a_sign_up_s():
    assert "password:" in refusal(PasswordReset, {"token": "t", "password": "x" * 7})
    assert "token:" in refusal(PasswordReset, {"password": "correct horse"})


# password hashing


def hasher_of(time_cost=1, memory_kib=1024):
    return PasswordHasher(time_cost=time_cost, memory_kib=memory_kib,
                          pool=BoundedPool(1, 0, busy=PasswordsBusy))


@pytest.fixture(scope="module")
def hasher():
    return hasher_of()


def test_a_hash_is_argon2id_and_never_holds_the_password(hasher):
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert hasher.hash("correct horse") != hashed


def test_verify_tells_the_right_password_from_a_wrong_one(hasher):
    hashed = hasher.hash("correct horse")
    assert hasher.verify(hashed, "correct horse") is True
    assert hasher.verify(hashed, "correct horsE") is False
    assert hasher.verify("not a hash", "correct horse") is False


@pytest.mark.parametrize("password", ["correct horse", "a password nobody has"])
@pytest.mark.parametrize("no_hash", [None, ""])
def test_verify_without_a_hash_is_false_even_for_the_decoy_password(hasher, no_hash, password):
    assert hasher.verify(no_hash, password) is False


def test_a_hash_needs_rehashing_once_the_cost_changes(hasher):
    hashed = hasher.hash("correct horse")
    assert hasher.needs_rehash(hashed) is False
    assert hasher_of(time_cost=2).needs_rehash(hashed) is True
    assert hasher_of(memory_kib=2048).needs_rehash(hashed) is True
