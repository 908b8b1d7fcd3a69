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
    # gateway: the request; roles, media and webhooks: their handlers of
    # event.copied; events (and webhooks): their handlers of the media.copied
    # that media's handler announced
    everyone = {"gateway", "events", "roles", "media", "webhooks"}
    assert wait_until(lambda: services_that_logged(system, request_id) == everyone,
                      timeout=15), services_that_logged(system, request_id)


def test_a_sign_up_is_followed_to_the_mail_it_sets_off(system, api, mailbox):
    """The gateway logs the request; the roles service signs the user up
    and announces `user.registered` (it logs nothing then); the
    notifications service, handling that message, asks the roles service
    for the link, mails it and logs both, with the request's id."""
    request_id = f"trace-{uuid.uuid4().hex}"
    email = f"traced.{uuid.uuid4().hex[:8]}@example.org"

    answer = api.post("/v1/users", {"email": email, "password": "correct horse battery",
                                    "name": "Traced"}, headers={"X-Request-Id": request_id})

    assert answer.status_code == 201 and answer.headers["X-Request-Id"] == request_id
    mailbox.wait_for(to=email, subject_contains="Verify", timeout=15)
    everyone = {"gateway", "notifications"}
    assert wait_until(lambda: services_that_logged(system, request_id) == everyone,
                      timeout=15), services_that_logged(system, request_id)
