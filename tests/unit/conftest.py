"""The gateway's real HTTP entrypoints, started in this process in front of
the fakes (tests/unit/fakes.py), and asked over real HTTP.

Nothing dials RabbitMQ: the four RPC proxies are replaced by the fakes
(`nameko.testing.services.replace_dependencies`), and the broker clients
the proxies brought along (their reply listener and its consumer) go with
them; nameko's `replace_dependencies` would leave those to connect.
"""
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest
import requests
from nameko.containers import ServiceContainer
from nameko.extensions import iter_extensions
from nameko.testing.services import replace_dependencies
from nameko.utils.concurrency import SpawningSet

from services.gateway.problems import CONTENT_TYPE
from services.gateway.service import GatewayService
from services.gateway.tokens import TokenCodec
from tests.unit.fakes import (
    Acting,
    FakeEvents,
    FakeMedia,
    FakeNotifications,
    FakeRoles,
    FakeWebhooks,
)

SECRET = "unit-test-secret-" + "x" * 32
CONFIG = {
    "JWT_SECRET": SECRET,
    "ENVIRONMENT": "test",
    "READ_CACHE_URL": "",  # no read cache: every read reaches the fake services
    "GRANT_TIMEOUT": 0,  # the fake roles service answers at once or never
    "MAX_JSON_BYTES": 1024,
    "MAX_IMAGE_BYTES": 4096,
    "AMQP_URI": "pyamqp://127.0.0.1:9//",  # never dialled
    "RATE_LIMIT_STORAGE": "memory://",  # each test's gateway counts alone, no Redis
    "METRICS_ADDRESS": "",  # not served (tests/integration/test_metrics.py serves them)
}
EVENT = {"name": "FOSSASIA Summit", "starts_at": "2030-03-14T09:00:00+08:00",
         "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore"}


class Client(requests.Session):
    """requests, with paths relative to the gateway's address."""

    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        return super().request(method, urljoin(self.base_url, url), *args, **kwargs)


@dataclass
class Gateway:
    http: Client
    events: FakeEvents
    roles: FakeRoles
    media: FakeMedia
    notifications: FakeNotifications
    webhooks: FakeWebhooks
    codec: TokenCodec
    container: ServiceContainer

    def auth(self, user_id):
        """The `Authorization` header of a token of a new sign-in of `user_id`."""
        token = self.codec.issue(user_id, self.roles.session_of(user_id))["access_token"]
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def gateway(container_factory, web_config, request):
    """The gateway on `CONFIG`, and the settings a test parametrizes it
    with (`@pytest.mark.parametrize("gateway", [{...}], indirect=True)`)."""
    roles = FakeRoles()
    fakes = {"roles": roles, "events": FakeEvents(roles), "media": FakeMedia(),
             "notifications": FakeNotifications(), "webhooks": FakeWebhooks(roles)}
    settings = getattr(request, "param", {})
    container = container_factory(GatewayService, {**web_config, **CONFIG, **settings})
    without_broker(container, **fakes)
    container.start()
    with Client(f"http://{web_config['WEB_SERVER_ADDRESS']}/") as http:
        yield Gateway(http, codec=TokenCodec(SECRET, 600), container=container, **fakes)


def without_broker(container, **replacements):
    """`replace_dependencies`, and drop the extensions only the replaced
    dependencies used."""
    replace_dependencies(container, **replacements)
    for provider in container.dependencies:  # each call's context reaches its fake
        if getattr(provider, "attr_name", None) in replacements:
            fake = replacements[provider.attr_name]
            provider.get_dependency = lambda worker_ctx, fake=fake: Acting(
                fake, worker_ctx.context_data)
    container.subextensions = SpawningSet(
        sub for extension in container.entrypoints | container.dependencies
        for sub in iter_extensions(extension))


def assert_problem(response, status, code):
    """`response` is an `application/problem+json` answer of `status` and `code`."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == CONTENT_TYPE
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith("/" + code) and body["title"] and body["detail"]
    return body
