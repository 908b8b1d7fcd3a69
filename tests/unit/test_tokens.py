"""Bearer tokens: what they carry, and every way one is refused."""
import base64
import os
import secrets
import subprocess
import sys
import time

import jwt
import pytest
from pydantic import ValidationError

from services.gateway.exceptions import Unauthenticated
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import (
    DEVELOPMENT_SECRET,
    MIN_BITS_PER_CHARACTER,
    TokenCodec,
    WeakSecret,
    bits_per_character,
    codec_from,
    weakness,
)
from shared.actors import new_key_pair
from tests.conftest import ROOT

SECRET = "s" * 64
SECRET_OF_OUR_OWN = "q8Jx2mVtL0pZr7WcYh3NbK5sDf9GaE1u"  # 32 characters, 5 bits each
codec = TokenCodec(SECRET, lifetime=600)


def bearer(token):
    return f"Bearer {token}"


def test_a_token_names_its_user_and_sign_in_and_expires():
    issued = codec.issue(42, "s1")
    claims = jwt.decode(issued["access_token"], SECRET, algorithms=["HS256"])

    assert issued["token_type"] == "bearer" and issued["expires_in"] == 600
    assert claims["sub"] == "42" and claims["sid"] == "s1"
    assert claims["exp"] - claims["iat"] == 600
    assert codec.signed_in(bearer(issued["access_token"])) == (42, "s1")


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer not.a.token",
])
def test_a_missing_or_malformed_header_is_refused(authorization):
    with pytest.raises(Unauthenticated):
        codec.signed_in(authorization)


def _signed(claims, secret=SECRET, algorithm="HS256"):
    return jwt.encode(claims, secret, algorithm=algorithm)


NOW = int(time.time())


@pytest.mark.parametrize("token", [
    _signed({"sub": "42", "sid": "s", "iat": NOW - 700, "exp": NOW - 100}),          # expired
    _signed({"sub": "42", "sid": "s", "iat": NOW, "exp": NOW + 600}, secret="t" * 64),
    _signed({"sub": "42", "sid": "s", "iat": NOW, "exp": NOW + 600}, algorithm="HS512"),
    jwt.encode({"sub": "42", "sid": "s", "iat": NOW, "exp": NOW + 600}, None, algorithm="none"),
    _signed({"sub": "42", "sid": "s", "iat": NOW}),                                  # no exp
    _signed({"sid": "s", "iat": NOW, "exp": NOW + 600}),                             # no sub
    _signed({"sub": "42", "iat": NOW, "exp": NOW + 600}),                            # no sid
    _signed({"sub": "42", "sid": 7, "iat": NOW, "exp": NOW + 600}),                  # sid not text
    _signed({"sub": "admin", "sid": "s", "iat": NOW, "exp": NOW + 600}),             # not an id
])
def test_a_bad_token_is_refused(token):
    with pytest.raises(Unauthenticated):
        codec.signed_in(bearer(token))


def test_a_token_with_a_forged_subject_is_refused():
    header, payload, signature = codec.issue(42, "s1")["access_token"].split(".")
    other = _signed({"sub": "7", "sid": "s1", "iat": NOW, "exp": NOW + 600}).split(".")[1]

    with pytest.raises(Unauthenticated):
        codec.signed_in(bearer(f"{header}.{other}.{signature}"))


# the secret fails closed


def gateway_settings(**values):
    """The gateway's settings with actor keys of their own (production
    refuses the development ones), and `values`."""
    signing_key, public_key = new_key_pair()
    return GatewaySettings(ACTOR_SIGNING_KEY=signing_key, ACTOR_PUBLIC_KEY=public_key, **values)


@pytest.mark.parametrize("secret, why", [
    (DEVELOPMENT_SECRET, "it is the development secret"),
    ("short", "it has 5 bytes, fewer than 32"),
    ("é" * 15, "it has 30 bytes, fewer than 32"),  # bytes, not characters
    ("s" * 64, "it is too predictable (0.0 bits"),
    ("ab" * 32, "it is too predictable (1.0 bits"),
    ("password" * 4, "it is too predictable (2.8 bits"),
    ("abc123" * 6, "it is too predictable (2.6 bits"),
])
def test_production_refuses_a_weak_secret_saying_why(secret, why):
    with pytest.raises(WeakSecret) as refused:
        codec_from(gateway_settings(ENVIRONMENT="production", JWT_SECRET=secret))

    line = str(refused.value)
    assert line.startswith(f"JWT_SECRET refused: {why}")
    assert "\n" not in line and secret not in line  # one line, and the secret is not in it
    assert refused.value.code == line  # exits non-zero with that line


@pytest.mark.parametrize("secret", [
    SECRET_OF_OUR_OWN, secrets.token_hex(32), secrets.token_urlsafe(32),
    base64.b64encode(secrets.token_bytes(48)).decode(),
])
def test_production_accepts_a_random_secret(secret):
    settings = gateway_settings(ENVIRONMENT="production", JWT_SECRET=secret)

    assert codec_from(settings).secret == secret


def test_the_environment_is_production_unless_said_so():
    with pytest.raises(WeakSecret):
        codec_from(gateway_settings())  # no ENVIRONMENT, no JWT_SECRET


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_admit_the_development_secret(environment):
    settings = GatewaySettings(ENVIRONMENT=environment)

    assert codec_from(settings).secret == DEVELOPMENT_SECRET


@pytest.mark.parametrize("environment", ["Production", "prod", "staging", ""])
def test_an_environment_not_named_exactly_is_refused(environment):
    with pytest.raises(ValidationError):
        gateway_settings(ENVIRONMENT=environment, JWT_SECRET=SECRET_OF_OUR_OWN)


def test_a_random_hex_or_base64_secret_clears_the_entropy_bar():
    # 64 hex digits or 43+ base64 characters: far above 3 bits a character
    for _ in range(1000):
        assert bits_per_character(secrets.token_hex(32)) > MIN_BITS_PER_CHARACTER
        assert bits_per_character(secrets.token_urlsafe(32)) > MIN_BITS_PER_CHARACTER
    assert weakness("abcdefgh" * 4) is None  # the bar's edge: 8 characters cycled, 3.0 bits


def test_nameko_run_stops_on_a_weak_secret_with_one_line_and_status_1():
    signing_key, public_key = new_key_pair()
    env = {**os.environ, "ENVIRONMENT": "production", "JWT_SECRET": "s" * 64,
           "ACTOR_SIGNING_KEY": signing_key, "ACTOR_PUBLIC_KEY": public_key,
           "GATEWAY_ADDRESS": "127.0.0.1:0", "AMQP_URI": "pyamqp://127.0.0.1:9//",
           "GATEWAY_BROKER_PASSWORD": "a-broker-password-of-its-own"}
    run = subprocess.run(
        [sys.executable, "-m", "nameko", "run", "--config", "services/gateway/config.yml",
         "services.gateway.service"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60)

    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "JWT_SECRET refused: it is too predictable (0.0 bits of entropy per character,"
        " fewer than 3); make one with `openssl rand -hex 32`")
    assert "Traceback" not in run.stderr + run.stdout
