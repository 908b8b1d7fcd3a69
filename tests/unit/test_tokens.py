"""Bearer tokens: what they carry, and every way one is refused."""
import time

import jwt
import pytest

from services.gateway.exceptions import Unauthenticated
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import DEVELOPMENT_SECRET, TokenCodec, WeakSecret, codec_from

SECRET = "s" * 64
codec = TokenCodec(SECRET, lifetime=600)


def bearer(token):
    return f"Bearer {token}"


def test_a_token_names_its_user_and_expires():
    issued = codec.issue(42)
    claims = jwt.decode(issued["access_token"], SECRET, algorithms=["HS256"])

    assert issued["token_type"] == "bearer" and issued["expires_in"] == 600
    assert claims["sub"] == "42" and claims["exp"] - claims["iat"] == 600
    assert codec.user_id(bearer(issued["access_token"])) == 42


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer not.a.token",
])
def test_a_missing_or_malformed_header_is_refused(authorization):
    with pytest.raises(Unauthenticated):
        codec.user_id(authorization)


def _signed(claims, secret=SECRET, algorithm="HS256"):
    return jwt.encode(claims, secret, algorithm=algorithm)


NOW = int(time.time())


@pytest.mark.parametrize("token", [
    _signed({"sub": "42", "iat": NOW - 700, "exp": NOW - 100}),                     # expired
    _signed({"sub": "42", "iat": NOW, "exp": NOW + 600}, secret="t" * 64),         # tampered
    _signed({"sub": "42", "iat": NOW, "exp": NOW + 600}, algorithm="HS512"),       # other alg
    jwt.encode({"sub": "42", "iat": NOW, "exp": NOW + 600}, None, algorithm="none"),
    _signed({"sub": "42", "iat": NOW}),                                            # no exp
    _signed({"iat": NOW, "exp": NOW + 600}),                                       # no sub
    _signed({"sub": "admin", "iat": NOW, "exp": NOW + 600}),                       # not an id
])
def test_a_bad_token_is_refused(token):
    with pytest.raises(Unauthenticated):
        codec.user_id(bearer(token))


def test_a_token_with_a_forged_subject_is_refused():
    header, payload, signature = codec.issue(42)["access_token"].split(".")
    other = _signed({"sub": "7", "iat": NOW, "exp": NOW + 600}).split(".")[1]

    with pytest.raises(Unauthenticated):
        codec.user_id(bearer(f"{header}.{other}.{signature}"))


def test_production_refuses_the_development_secret_and_short_ones():
    for secret in (DEVELOPMENT_SECRET, "short"):
        with pytest.raises(WeakSecret):
            codec_from(GatewaySettings(ENVIRONMENT="production", JWT_SECRET=secret))
    assert codec_from(GatewaySettings(ENVIRONMENT="production", JWT_SECRET=SECRET)).secret == SECRET
    assert codec_from(GatewaySettings()).secret == DEVELOPMENT_SECRET  # development
