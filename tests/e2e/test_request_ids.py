"""One request can be followed across the services: its id travels with
the RPC calls and the events it causes, and every JSON log line written on
its behalf carries it."""
import json
import uuid

from tests.e2e.helpers import png
from tests.e2e.test_gateway import EVENT
from tests.support.http import ok
from tests.support.tap import wait_until


def services_that_logged(system, request_id):
    seen = set()
    for line in system.log_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("request_id") == request_id:
                seen.add(record["service"])
    return seen


def test_a_copy_request_is_followed_through_every_service(system, new_user):
    owner = new_user("tracer")
    event = ok(owner.api.post("/v1/events", EVENT), 201)
    ok(owner.api.put(f"/v1/events/{event['id']}/images/logo", data=png(),
                     headers={"Content-Type": "image/png"}))
    request_id = f"trace-{uuid.uuid4().hex}"

    answer = owner.api.post(f"/v1/events/{event['id']}/copy",
                            headers={"X-Request-Id": request_id})

    assert answer.status_code == 201 and answer.headers["X-Request-Id"] == request_id
    # gateway: the request; roles and media: their handlers of event.copied;
    # events: its handler of the media.copied that media's handler announced
    everyone = {"gateway", "events", "roles", "media"}
    assert wait_until(lambda: services_that_logged(system, request_id) == everyone,
                      timeout=15), services_that_logged(system, request_id)
