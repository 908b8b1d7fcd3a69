"""The fakes the gateway's tests run against keep to the services'
contracts: each implements every method of its RPC Protocol, with the
same parameters and defaults, so a changed contract fails here first."""
import inspect

import pytest

from contracts.events.rpc import EventsRpc
from contracts.media.rpc import MediaRpc
from contracts.notifications.rpc import NotificationsRpc
from contracts.roles.rpc import RolesRpc
from contracts.webhooks.rpc import WebhooksRpc
from tests.unit.fakes import (
    FakeEvents,
    FakeMedia,
    FakeNotifications,
    FakeRoles,
    FakeWebhooks,
)

PAIRS = [(FakeEvents, EventsRpc), (FakeRoles, RolesRpc), (FakeMedia, MediaRpc),
         (FakeNotifications, NotificationsRpc), (FakeWebhooks, WebhooksRpc)]
METHODS = [(fake, protocol, name) for fake, protocol in PAIRS
           for name, _ in inspect.getmembers(protocol, inspect.isfunction)
           if not name.startswith("_")]


@pytest.mark.parametrize("fake, protocol, name", METHODS,
                         ids=[f"{protocol.__name__}.{name}" for _, protocol, name in METHODS])
def test_a_fake_implements_each_method_as_its_protocol_declares_it(fake, protocol, name):
    implemented, declared = getattr(fake, name), getattr(protocol, name)

    assert implemented is not declared, f"{fake.__name__} lacks {name}"
    assert _parameters(implemented) == _parameters(declared)


def _parameters(function):
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
