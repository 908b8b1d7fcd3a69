"""Where a webhook may post (`services.webhooks.addresses`): https only in
production, public addresses only, loopback only where a setting allows;
and the settings refuse the allowances in production."""
import pytest

from contracts.webhooks.errors import UnsafeUrl
from services.webhooks.addresses import allowed, check
from services.webhooks.settings import WebhooksSettings

PRODUCTION = WebhooksSettings(ENVIRONMENT="production", BROKER_PASSWORD="not-the-dev-one")
TESTS = WebhooksSettings(ENVIRONMENT="test", WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOW_LOOPBACK=True)


def resolving_to(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("address", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "fd00:ec2::254", "fe80::1", "::ffff:10.0.0.1", "::"])
def test_non_public_addresses_are_refused_even_with_loopback_allowed(address):
    assert not allowed(address, allow_loopback=True)
    with pytest.raises(UnsafeUrl):
        check("http://hooks.example.org/in", TESTS, resolving_to(address))


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_only_where_the_settings_allow_it(address):
    assert allowed(address, allow_loopback=True) and not allowed(address)
    check("http://localhost:8080/", TESTS, resolving_to(address))
    with pytest.raises(UnsafeUrl):
        check("https://localhost/", PRODUCTION, resolving_to(address))


def test_a_public_https_url_is_taken_in_production():
    check("https://hooks.example.org/in?token=x", PRODUCTION, resolving_to("93.184.215.14"))


@pytest.mark.parametrize("url", ["http://hooks.example.org/", "ftp://hooks.example.org/",
                                 "https:///nohost", "https://hooks.example.org:99999/"])
def test_production_takes_https_urls_with_a_host_and_port_alone(url):
    with pytest.raises(UnsafeUrl):
        check(url, PRODUCTION, resolving_to("93.184.215.14"))


def test_a_host_with_any_private_address_or_none_is_refused():
    with pytest.raises(UnsafeUrl):
        check("https://a.example.org/", PRODUCTION, resolving_to("93.184.215.14", "10.0.0.1"))
    with pytest.raises(UnsafeUrl):
        check("https://a.example.org/", PRODUCTION, resolving_to())


def test_production_refuses_the_allowances():
    with pytest.raises(ValueError, match="refused in production"):
        WebhooksSettings(ENVIRONMENT="production", WEBHOOK_ALLOW_LOOPBACK=True)


@pytest.mark.parametrize("url", ["http://[::1/in", "http://hooks\x00.example.org/",
                                 "http://" + "a" * 70 + ".example.org/"])
def test_a_url_no_resolver_can_read_is_refused_not_an_error(url):
    with pytest.raises(UnsafeUrl):
        check(url, TESTS)  # the real resolver
