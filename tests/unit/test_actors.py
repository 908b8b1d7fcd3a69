"""The proof of who acts: signed by the gateway, checked by every service."""
import pytest
from nameko.containers import ServiceContainer
from pydantic import ValidationError

from services.events.service import EventsService
from services.gateway.settings import GatewaySettings
from shared.actors import (
    DEVELOPMENT_PUBLIC_KEY,
    DEVELOPMENT_SIGNING_KEY,
    Actor,
    ActorNotProven,
    ActorSigner,
    ActorVerifier,
    DevelopmentKeyRefused,
    new_key_pair,
    public_of,
)

SIGNER = ActorSigner(DEVELOPMENT_SIGNING_KEY)
VERIFIER = ActorVerifier(DEVELOPMENT_PUBLIC_KEY)


def test_a_proof_names_its_user_for_its_request():
    assert VERIFIER.user_id(SIGNER.sign(7, "req-1"), "req-1") == 7


def test_the_development_keys_are_a_pair():
    assert public_of(DEVELOPMENT_SIGNING_KEY) == DEVELOPMENT_PUBLIC_KEY


@pytest.mark.parametrize(("make_proof", "request_id", "why"), [  # made when the test runs
    (lambda: None, "req-1", "no proof"),
    (lambda: "not.a.jwt", "req-1", "not valid"),
    (lambda: ActorSigner(DEVELOPMENT_SIGNING_KEY, lifetime=-10).sign(7, "req-1"), "req-1",
     "expired"),
    (lambda: ActorSigner(new_key_pair()[0]).sign(7, "req-1"), "req-1", "not valid"),
    (lambda: SIGNER.sign(7, "req-1"), "req-2", "another request"),
    (lambda: SIGNER.sign("nobody", "req-1"), "req-1", "names no user"),
], ids=["none", "garbage", "expired", "another key", "another request", "no user"])
def test_a_proof_that_does_not_hold_is_refused_saying_why(make_proof, request_id, why):
    with pytest.raises(ActorNotProven, match=why):
        VERIFIER.user_id(make_proof(), request_id)


def test_a_proof_with_its_user_changed_no_longer_verifies():
    header, claims, signature = SIGNER.sign(7, "req-1").split(".")
    other = SIGNER.sign(8, "req-1").split(".")[1]
    with pytest.raises(ActorNotProven, match="not valid"):
        VERIFIER.user_id(f"{header}.{other}.{signature}", "req-1")


@pytest.mark.parametrize("key", ["", "short", "A" * 44])
def test_a_key_that_is_not_32_bytes_of_base64_is_refused(key):
    with pytest.raises(ValueError, match="32 bytes"):
        ActorVerifier(key)


def test_a_service_in_production_refuses_the_development_public_key():
    container = ServiceContainer(EventsService, {"AMQP_URI": "memory://",
                                                 "ENVIRONMENT": "production"})
    actor = next(dependency for dependency in container.dependencies
                 if isinstance(dependency, Actor))
    with pytest.raises(DevelopmentKeyRefused, match="ACTOR_PUBLIC_KEY"):
        actor.setup()


def test_a_service_in_production_takes_a_public_key_of_its_own():
    container = ServiceContainer(EventsService, {
        "AMQP_URI": "memory://", "ENVIRONMENT": "production",
        "ACTOR_PUBLIC_KEY": new_key_pair()[1]})
    actor = next(dependency for dependency in container.dependencies
                 if isinstance(dependency, Actor))
    actor.setup()


def test_the_gateway_in_production_refuses_the_development_signing_key():
    with pytest.raises(ValidationError, match="ACTOR_SIGNING_KEY"):
        GatewaySettings(ENVIRONMENT="production", JWT_SECRET="x" * 64)
