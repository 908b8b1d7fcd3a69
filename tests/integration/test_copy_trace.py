"""The trace of a copy asked of the gateway over HTTP: one trace, with
spans from every service it reaches and the right parents, the handlers
fed through the outbox included. The gateway, events, roles and media
services run in this process (so the SDK's in-memory exporter sees their
spans), on the real PostgreSQL and RabbitMQ."""
import pytest
import requests

from services.gateway.service import GatewayService
from tests.integration.conftest import EVENT
from tests.support.media import b64, image
from tests.support.services import start_service
from tests.support.spans import is_child, record_spans

COPY_ROUTE = "POST /v1/events/{event}/copy"


@pytest.fixture
def spans(monkeypatch):
    return record_spans(monkeypatch)


@pytest.fixture
def gateway(spans, container_factory, service_config, web_config, media_beside_roles):
    """The gateway's address, in front of the events, roles and media services."""
    start_service(container_factory, GatewayService, {
        **service_config, **web_config, "RATE_LIMIT_STORAGE": "memory://", "RPC_TIMEOUT": 5})
    return f"http://{web_config['WEB_SERVER_ADDRESS']}"


@pytest.fixture
def signed_in(gateway, sign_up):
    """The owner of an event with a logo, and the Authorization of their token."""
    owner = sign_up("owner", verified=True)
    token = requests.post(f"{gateway}/v1/auth/token", json={
        "email": owner["email"], "password": "correct horse"}, timeout=10)
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_a_copy_is_one_trace_through_every_service_and_handler(
        spans, gateway, signed_in, media_beside_roles):
    event = requests.post(f"{gateway}/v1/events", json=EVENT, headers=signed_in, timeout=10)
    assert event.status_code == 201, event.text
    event = event.json()
    media_beside_roles.acting(event["owner_id"]).upload_event_image(
        event["id"], "logo", b64(image("navy", (400, 400))))

    copied = requests.post(f"{gateway}/v1/events/{event['id']}/copy", headers=signed_in,
                           timeout=10)
    assert copied.status_code == 201, copied.text

    request = spans.one("gateway", COPY_ROUTE)
    trace_id = request.context.trace_id
    call = spans.one("gateway", "events.copy_event", trace_id)
    copy = spans.one("events", "events.copy_event", trace_id)
    relayed = spans.one("events", "publish event.copied", trace_id)
    media_copies = spans.one("media", "media.on_event_copied", trace_id)
    team_copied = spans.one("roles", "roles.on_event_copied", trace_id)
    media_announced = spans.one("media", "publish media.copied", trace_id)
    urls_shown = spans.one("events", "events.on_media_copied", trace_id)

    assert request.parent is None and request.attributes["http.response.status_code"] == 201
    assert is_child(call, request) and is_child(copy, call)
    assert is_child(relayed, copy)
    assert is_child(media_copies, relayed) and is_child(team_copied, relayed)
    assert is_child(media_announced, media_copies) and is_child(urls_shown, media_announced)
    in_trace = {span.resource.attributes["service.name"] for span in spans.all()
                if span.context.trace_id == trace_id}
    assert in_trace == {"gateway", "events", "roles", "media"}
