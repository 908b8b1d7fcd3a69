"""The gateway's rate limits: what each counts, what it answers over its
budget, and what it does when Redis cannot be reached (the abuse-sensitive
limits refuse, a signed-in user's write goes through, reads never ask)."""
from ipaddress import ip_network
from types import SimpleNamespace

import pytest
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from services.gateway.clients import client_address
from services.gateway.exceptions import RateLimited, RateLimitsUnavailable
from services.gateway.ratelimits import BUDGETS, Limiter
from tests.unit.conftest import EVENT, assert_problem

ROOMY = {name: "1000 per minute" for name in BUDGETS}
NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def limiter(storage=None, **budgets):
    strategy = MovingWindowRateLimiter(storage or MemoryStorage())
    return Limiter(strategy, {**ROOMY, **budgets})


def request_from(address, forwarded=None):
    environ = {"REMOTE_ADDR": address}
    if forwarded:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    return SimpleNamespace(environ=environ)


def test_sign_ins_of_one_email_stop_at_its_budget_and_say_when_to_come_back():
    limits = limiter(sign_in_account="3 per 5 minutes")
    for _ in range(3):
        limits.sign_in(request_from("192.0.2.1"), "ana@example.org")

    with pytest.raises(RateLimited) as refused:
        limits.sign_in(request_from("192.0.2.2"), "Ana@Example.org ")

    assert refused.value.limit == 3
    assert 290 <= refused.value.retry_after <= 300
    limits.sign_in(request_from("192.0.2.1"), "bob@example.org")  # another email: its own count


def test_sign_ins_from_one_address_stop_at_its_budget_whatever_the_email():
    limits = limiter(sign_in_address="2 per minute")
    limits.sign_in(request_from("192.0.2.1"), "ana@example.org")
    limits.sign_in(request_from("192.0.2.1"), "bob@example.org")

    with pytest.raises(RateLimited):
        limits.sign_in(request_from("192.0.2.1"), "cleo@example.org")
    limits.sign_in(request_from("192.0.2.9"), "cleo@example.org")


@pytest.mark.parametrize("count", [
    lambda limits: limits.sign_up(request_from("192.0.2.1")),
    lambda limits: limits.mail("ana@example.org"),
    lambda limits: limits.write(7),
    lambda limits: limits.invite(42),
], ids=["sign_up", "mail", "write", "invite"])
def test_each_limit_refuses_past_its_budget(count):
    limits = limiter(**{name: "1 per minute" for name in BUDGETS})
    count(limits)

    with pytest.raises(RateLimited):
        count(limits)


def test_without_redis_sign_ins_sign_ups_mails_and_invites_are_refused_not_unlimited():
    limits = limiter(RedisStorage(NOWHERE, wrap_exceptions=True, socket_connect_timeout=0.5))

    for count in (lambda: limits.sign_in(request_from("192.0.2.1"), "ana@example.org"),
                  lambda: limits.sign_up(request_from("192.0.2.1")),
                  lambda: limits.mail("ana@example.org"), lambda: limits.invite(42)):
        with pytest.raises(RateLimitsUnavailable):
            count()


def test_without_redis_a_signed_in_users_write_goes_through():
    limits = limiter(RedisStorage(NOWHERE, wrap_exceptions=True, socket_connect_timeout=0.5))

    limits.write(7)


def test_the_client_is_the_connections_peer_whatever_it_forwards():
    assert client_address({"REMOTE_ADDR": "192.0.2.1",
                           "HTTP_X_FORWARDED_FOR": "198.51.100.7"}) == "192.0.2.1"


def test_behind_a_trusted_proxy_the_client_is_the_last_hop_it_does_not_trust():
    proxies = (ip_network("10.0.0.0/8"),)
    environ = {"REMOTE_ADDR": "10.0.0.2",
               "HTTP_X_FORWARDED_FOR": "203.0.113.66, 198.51.100.7, 10.0.0.9"}

    assert client_address(environ, proxies) == "198.51.100.7"
    assert client_address({"REMOTE_ADDR": "10.0.0.2"}, proxies) == "10.0.0.2"


# through the gateway's HTTP entrypoints

ONE_EACH = {"RATE_LIMIT_SIGN_IN_ACCOUNT": "2 per minute", "RATE_LIMIT_WRITE": "1 per minute",
            "RATE_LIMIT_SIGN_UP_ADDRESS": "1 per minute", "RATE_LIMIT_MAIL": "1 per minute"}


@pytest.mark.parametrize("gateway", [ONE_EACH], indirect=True)
def test_a_sign_in_over_its_budget_is_a_429_problem_with_retry_after_and_ratelimit_fields(
        gateway):
    gateway.roles.add_user("ana")
    credentials = {"email": "ana@example.org", "password": "wrong"}
    for _ in range(2):
        assert gateway.http.post("/v1/auth/token", json=credentials).status_code == 401

    refused = gateway.http.post("/v1/auth/token", json={**credentials,
                                                        "password": "correct horse"})

    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Limit"] == "2"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == refused.headers["Retry-After"]


@pytest.mark.parametrize("gateway", [ONE_EACH], indirect=True)
def test_a_users_writes_are_limited_and_reads_never(gateway):
    ana = gateway.auth(gateway.roles.add_user("ana"))
    created = gateway.http.post("/v1/events", headers=ana, json=EVENT)
    assert created.status_code == 201, created.text

    assert_problem(gateway.http.post("/v1/events", headers=ana, json=EVENT), 429, "rate_limited")
    for _ in range(3):
        assert gateway.http.get(f"/v1/events/{created.json()['id']}", headers=ana).ok
    assert gateway.http.post("/v1/events", headers=gateway.auth(gateway.roles.add_user("bob")),
                             json=EVENT).status_code == 201


@pytest.mark.parametrize("gateway", [ONE_EACH], indirect=True)
def test_sign_ups_from_one_address_and_mails_to_one_email_are_limited(gateway):
    def sign_up(name):
        return gateway.http.post("/v1/users", json={
            "email": f"{name}@example.org", "name": name, "password": "correct horse"})

    def reset():
        return gateway.http.post("/v1/auth/password-reset", json={"email": "ana@example.org"})

    assert sign_up("ana").status_code == 201
    assert_problem(sign_up("bob"), 429, "rate_limited")
    assert reset().status_code == 202
    assert_problem(reset(), 429, "rate_limited")


@pytest.mark.parametrize("gateway", [{"RATE_LIMIT_STORAGE": NOWHERE}], indirect=True)
def test_without_redis_a_sign_in_is_a_503_problem_with_retry_after(gateway):
    gateway.roles.add_user("ana")

    refused = gateway.http.post("/v1/auth/token", json={"email": "ana@example.org",
                                                       "password": "correct horse"})

    assert_problem(refused, 503, "rate_limits_unavailable")
    assert refused.headers["Retry-After"]
