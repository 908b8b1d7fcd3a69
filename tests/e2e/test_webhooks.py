"""Webhooks end to end: the services as `nameko run` processes, a real
receiver on loopback (`tests.support.receiver`), HTTP only. The e2e system
allows http:// and loopback URLs, never private ones; a receiver has
`WEBHOOK_TIMEOUT` 2 s and retries after 0.2 s (`tests.support.system`)."""
import statistics
import time

import pytest
from sqlalchemy import text

from tests.e2e.helpers import assert_problem
from tests.support.http import ok
from tests.support.receiver import HANG, Receiver
from tests.support.tap import wait_until

EVENT = {"name": "Hooked", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00"}
COPIED = ["event.copied"]


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def organizer(new_user):
    """A user with an event of their own: `(user, event)`."""
    user = new_user("organizer")
    return user, ok(user.api.post("/v1/events", EVENT), 201)


def hook(organizer, url, events=COPIED, status=201):
    user, event = organizer
    return ok(user.api.post(f"/v1/events/{event['id']}/webhooks",
                            {"url": url, "events": events, "description": "test"}), status)


def copy(organizer):
    user, event = organizer
    return ok(user.api.post(f"/v1/events/{event['id']}/copy"), 201)


def log_of(organizer, webhook):
    user, event = organizer
    return ok(user.api.get(f"/v1/events/{event['id']}/webhooks/{webhook['id']}/deliveries"))


def arrivals(receiver, path, count, timeout=15):
    return wait_until(lambda: len(receiver.at(path)) >= count and receiver.at(path),
                      timeout=timeout)


def settled(organizer, webhook, status, timeout=15):
    """The webhook's newest delivery, once it is `status`."""
    return wait_until(lambda: [d for d in log_of(organizer, webhook)["items"][:1]
                               if d["status"] == status], timeout=timeout)[0]


def test_a_copy_arrives_signed(organizer, receiver):
    webhook = hook(organizer, f"{receiver.url}/signed")
    assert webhook["secret"].startswith("whsec_") and webhook["enabled"]
    copied = copy(organizer)

    [received] = arrivals(receiver, "/signed", 1)
    payload = received.verify(webhook["secret"])
    assert payload["type"] == "event.copied"
    assert payload["data"]["source_event_id"] == organizer[1]["id"]
    assert payload["data"]["event_id"] == copied["id"]
    assert received.headers["webhook-id"] == payload["data"]["message_id"]
    delivery = settled(organizer, webhook, "succeeded")
    assert [a["status_code"] for a in delivery["attempts"]] == [200]
    assert "secret" not in ok(organizer[0].api.get(
        f"/v1/events/{organizer[1]['id']}/webhooks/{webhook['id']}"))


def test_three_500s_then_a_200_deliver_it_once_on_the_fourth_attempt(organizer, receiver):
    receiver.script("/flaky", [500, 500, 500, 200])
    webhook = hook(organizer, f"{receiver.url}/flaky")
    copy(organizer)
    first = arrivals(receiver, "/flaky", 4)
    assert len({item.headers["webhook-id"] for item in first}) == 1
    delivery = settled(organizer, webhook, "succeeded")
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 200]

    copy(organizer)  # in order: it goes out only once the first is done
    after = arrivals(receiver, "/flaky", 5)
    assert after[4].headers["webhook-id"] != after[0].headers["webhook-id"]
    assert len(receiver.at("/flaky")) == 5


def test_a_hanging_receiver_times_out_and_is_retried(organizer, receiver):
    receiver.script("/slow", [HANG, 200])
    webhook = hook(organizer, f"{receiver.url}/slow")
    copy(organizer)
    delivery = settled(organizer, webhook, "succeeded")
    timed_out, answered = delivery["attempts"]
    assert timed_out["status_code"] is None and "within 2 s" in timed_out["error"]
    assert 2000 <= timed_out["duration_ms"] < 4000
    assert answered["status_code"] == 200


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://169.254.169.254/latest",
                                 "http://[fd00:ec2::254]/", "http://192.168.1.10:8080/x",
                                 "ftp://example.org/", "http://unresolvable.invalid/"])
def test_a_url_to_a_private_address_is_refused_at_creation(organizer, url):
    user, event = organizer
    assert_problem(user.api.post(f"/v1/events/{event['id']}/webhooks",
                                 {"url": url, "events": COPIED}), 422, "unsafe_url")


def test_a_url_that_resolves_privately_later_is_refused_at_delivery(organizer, receiver,
                                                                    system):
    webhook = hook(organizer, f"{receiver.url}/moved")
    with system.engine("webhooks").begin() as conn:  # as if its DNS now said 10.0.0.1
        conn.execute(text("UPDATE webhooks SET url = 'http://10.0.0.1:9/moved' WHERE id = :id"),
                     {"id": webhook["id"]})
    copy(organizer)
    attempts = wait_until(lambda: [d["attempts"] for d in log_of(organizer, webhook)["items"]
                                   if d["attempts"]])[0]
    assert attempts[0]["status_code"] is None
    assert attempts[0]["error"].startswith("refused: 10.0.0.1 resolves to 10.0.0.1")
    assert receiver.at("/moved") == []


def test_a_dead_endpoint_does_not_delay_a_healthy_one(new_user, receiver):
    """Each of several organizers' copies reaches a healthy endpoint as
    fast with a dead endpoint hanging beside it as without."""
    receiver.script("/dead", [HANG])

    def latencies(with_dead, count=5):
        seconds = []
        for n in range(count):
            user = new_user("timed")
            organizer = (user, ok(user.api.post("/v1/events", EVENT), 201))
            path = f"/healthy-{with_dead}-{n}"
            if with_dead:
                hook(organizer, f"{receiver.url}/dead")
            hook(organizer, f"{receiver.url}{path}")
            start = time.time()
            copy(organizer)
            seconds.append(arrivals(receiver, path, 1)[0].at - start)
        return seconds

    alone, beside_dead = latencies(False), latencies(True)
    print(f"healthy endpoint, copy answered → POST received: alone median "
          f"{statistics.median(alone) * 1000:.0f} ms, max {max(alone) * 1000:.0f} ms; beside a"
          f" dead one median {statistics.median(beside_dead) * 1000:.0f} ms, max"
          f" {max(beside_dead) * 1000:.0f} ms")
    assert max(beside_dead) < 1.0  # well inside the dead one's 2 s timeout
    assert len(receiver.at("/dead")) >= 5


def test_a_failed_delivery_is_sent_again_from_the_log(organizer, receiver):
    receiver.script("/down", [500] * 5 + [200])  # the first try and its four retries
    webhook = hook(organizer, f"{receiver.url}/down")
    copy(organizer)
    failed = settled(organizer, webhook, "failed")
    assert [a["status_code"] for a in failed["attempts"]] == [500] * 5

    user, event = organizer
    retried = ok(user.api.post(f"/v1/events/{event['id']}/webhooks/{webhook['id']}"
                               f"/deliveries/{failed['id']}/retry"), 202)
    assert retried["message_id"] == failed["message_id"]
    delivered = settled(organizer, webhook, "succeeded")
    assert delivered["attempts"][-1]["status_code"] == 200
    assert receiver.at("/down")[-1].headers["webhook-id"] == failed["message_id"]


def test_an_endpoint_failing_for_days_is_disabled_and_the_owner_mailed(organizer, receiver,
                                                                      system, mailbox):
    receiver.script("/gone", [500] * 5)
    webhook = hook(organizer, f"{receiver.url}/gone")
    with system.engine("webhooks").begin() as conn:  # as if it had failed for four days
        conn.execute(text("UPDATE webhooks SET failing_since = now() - interval '4 days'"
                          " WHERE id = :id"), {"id": webhook["id"]})
    copy(organizer)

    user, event = organizer
    path = f"/events/{event['id']}/webhooks/{webhook['id']}"
    wait_until(lambda: not ok(user.api.get(f"/v1{path}"))["enabled"])
    mail = mailbox.wait_for(to=user.email, subject_contains="was disabled")
    assert mail["subject"] == f"Your webhook to {receiver.url} for Hooked was disabled"
    assert f"{path}\n" in mail["text"] and f"PATCH /v1{path}" in mail["text"]
    assert webhook["secret"] not in mail["text"] + mail["html"]


def test_a_ping_arrives_signed(organizer, receiver):
    webhook = hook(organizer, f"{receiver.url}/ping")
    user, event = organizer
    ok(user.api.post(f"/v1/events/{event['id']}/webhooks/{webhook['id']}/test"), 202)
    [received] = arrivals(receiver, "/ping", 1)
    assert received.verify(webhook["secret"])["type"] == "webhook.ping"


def test_an_organizer_manages_the_webhooks(organizer, receiver):
    webhook = hook(organizer, f"{receiver.url}/managed")
    user, event = organizer
    base = f"/v1/events/{event['id']}/webhooks"
    assert [item["id"] for item in ok(user.api.get(base))["items"]] == [webhook["id"]]
    changed = ok(user.api.patch(f"{base}/{webhook['id']}",
                                {"enabled": False, "events": ["event.deleted"]}))
    assert changed["enabled"] is False and changed["events"] == ["event.deleted"]
    assert_problem(user.api.patch(f"{base}/{webhook['id']}", {"url": "http://10.1.2.3/"}),
                   422, "unsafe_url")
    assert_problem(user.api.patch(f"{base}/{webhook['id']}", {"events": ["user.registered"]}),
                   422)
    assert ok(user.api.delete(f"{base}/{webhook['id']}"), 204) is None
    assert_problem(user.api.get(f"{base}/{webhook['id']}"), 404, "webhook_not_found")


def test_only_an_organizer_may(organizer, new_user, api, receiver):
    user, event = organizer
    base = f"/v1/events/{event['id']}/webhooks"
    stranger = new_user("stranger")
    assert_problem(stranger.api.post(base, {"url": receiver.url, "events": COPIED}), 403)
    assert_problem(stranger.api.get(base), 403)
    assert_problem(api.get(base), 401)
