"""Scenario 4, redelivery: every message of a real flow reaches each of its
handlers three times, and each effect happens exactly once.

The flow, over HTTP: an owner signs up (and verifies the email by the
mailed link) and asks for a password reset link; a coorganizer-to-be signs
up, asks for a second verification link and verifies the email by it. The
owner creates an event with a sponsor, uploads the event's image and the
sponsor's logo, invites the coorganizer and resends the invitation; the
coorganizer accepts by the resent link and copies the event; once the
copy's media are in, the owner deletes the copy. A queue bound to every
service's exchange captures each message the system publishes; the test
publishes each one twice more, as it was (same exchange, routing key,
message_id, headers, body):

- `after`: once the flow has settled, so that the copies come long after
  the first delivery was handled;
- `at once`: the moment the first is captured, so that the copies race
  the first delivery through the handlers.

The system is then left to finish (every handler has logged three
deliveries of each message, no queue or outbox holds anything) and its
databases are read directly: the team rows, the copy's media records, the
events' URL columns and media versions, the mails sent, the inbox rows;
the mail catcher holds each mail once; nothing more was published; and
(`after`) nothing differs from what the single delivery had made.
"""
import time
from collections import Counter

import pytest

from tests.reliability import flows
from tests.reliability.conftest import scaled
from tests.support.http import VERIFY_PATH, ok

# a verification link may be asked for again at once (the flow asks for one)
SYSTEM_ENV = {"MAIL_INTERVAL_SECONDS": "0"}
DELIVERIES = 3
# what one flow publishes, by event type
PUBLISHED = Counter({"user.registered": 2, "email_verification.requested": 1,
                     "password_reset.requested": 1, "event.created": 1, "media.changed": 3,
                     "invite.created": 1, "invite.resent": 1, "invite.accepted": 1,
                     "event.copied": 1, "media.copied": 1, "event.deleted": 1,
                     "sponsor.deleted": 1, "event.visibility_changed": 1})
# the handlers this scenario must cover: every one of the system
HANDLERS = {
    ("roles", "event.created"), ("roles", "event.copied"), ("roles", "event.deleted"),
    ("roles", "invite.accepted"), ("media", "event.copied"), ("media", "event.deleted"),
    ("media", "sponsor.deleted"), ("media", "event.visibility_changed"),
    ("events", "media.copied"),
    ("events", "media.changed"), ("notifications", "user.registered"),
    ("notifications", "email_verification.requested"),
    ("notifications", "password_reset.requested"), ("notifications", "invite.created"),
    ("notifications", "invite.resent"),
    # a webhook delivery recorded for each (none here: the flow's events have no webhook)
    *{("webhooks", event_type) for event_type in (
        "event.copied", "event.deleted", "event.visibility_changed", "sponsor.deleted",
        "invite.created", "invite.resent", "invite.accepted", "media.changed", "media.copied")},
}
# the handlers whose effect once is shown by another test: the webhooks
# service's of the team changes (the flow changes no role; a delivery per
# subscribed webhook) and the mail of a disabled webhook (no flow fails one
# for days)
WEBHOOK_DELIVERIES = "tests/e2e/test_webhooks.py: each delivery arrives exactly once"
ONCE_ELSEWHERE = {
    ("webhooks", "role.changed"): WEBHOOK_DELIVERIES,
    ("webhooks", "role.revoked"): WEBHOOK_DELIVERIES,
    ("notifications", "webhook.disabled"):
        "tests/integration/test_notifications.py: mailed to the event's owner once",
}
# the mails one flow sends: (to whom, kind) -> how many
MAILS = {("owner", "verify_email"): 1, ("owner", "password_reset"): 1,
         ("coorganizer", "verify_email"): 2, ("coorganizer", "role_invite"): 2}
SUBJECTS = {"verify_email": "Verify your email", "password_reset": "Reset your",
            "role_invite": flows.INVITATION}


def test_the_flow_reaches_every_handler_of_the_system():
    """If a handler is added, this scenario must learn what its effect is,
    or name the test that shows it once under redelivery."""
    found = {(handler.service, handler.event_type) for handler in flows.handlers()}
    assert found == HANDLERS | set(ONCE_ELSEWHERE)
    consumed = {event_type for _, event_type in HANDLERS}
    assert consumed <= set(PUBLISHED)


@pytest.mark.parametrize("when", ["after", "at once"])
def test_each_message_delivered_three_times_has_each_effect_once(system, report, when):
    rounds = scaled(1, 5)
    marks, retried = flows.log_marks(system), len(flows.RETRIED_503)
    uri = flows.amqp_uri(system)
    capture = flows.Capture(uri)
    started = time.monotonic()
    try:
        republish = (lambda captured: flows.republish(uri, captured, DELIVERIES - 1)) \
            if when == "at once" else None
        made = [run_flow(system, capture, on_message=republish) for _ in range(rounds)]
        captured = capture.await_count(
            Counter({kind: count * rounds for kind, count in PUBLISHED.items()}))
        originals = first_deliveries(captured)

        assert Counter(message.event_type for message in originals.values()) == Counter(
            {kind: count * rounds for kind, count in PUBLISHED.items()}), \
            "the flow published a message more (or less) often than once"
        expected_once = deliveries(originals, 1)
        flows.await_handled(system, expected_once)
        flows.await_quiet(system)
        before = snapshot(system, made)

        if when == "after":
            for message in originals.values():
                flows.republish(uri, message, DELIVERIES - 1)
        expected = deliveries(originals, DELIVERIES)
        counts = flows.await_handled(system, expected, strict=False)
        lost = {key: counts[key] for key in expected if counts[key] < DELIVERIES}
        if not lost:
            flows.await_quiet(system)
        capture.drain()
        published = Counter(message.message_id for message in capture.seen)
    finally:
        capture.close()

    after = snapshot(system, made)
    # each handler saw each message exactly three times, and no more
    over = {key: counts[key] for key in expected if counts[key] > DELIVERIES}
    # no handler published anything new for a copy it had seen
    new = set(published) - set(originals)
    extra = {message_id: seen for message_id, seen in published.items()
             if message_id in originals and seen != DELIVERIES}
    problems = [check_effects(system, flow) for flow in made]
    changed = diff(before, after) if when == "after" else []
    outages = flows.unexplained_outages(system, marks) + flows.unexplained_503s(retried)
    duplicated = len(over) + len(new) + len(extra) + len(changed) + sum(
        len(found) for found in problems)
    report(scenario=f"redelivery ({when})", injected=f"each message delivered {DELIVERIES}×",
           requested=sum(expected.values()), completed=sum(counts[key] for key in expected),
           lost=sum(DELIVERIES - counts[key] for key in lost), duplicated=duplicated,
           passed=not lost and duplicated == 0 and not outages, flows=rounds,
           outages=flows.tally(outages),
           messages=len(originals), seconds=round(time.monotonic() - started, 1))

    assert not lost, f"deliveries not handled (handled, of {DELIVERIES}): {lost}"
    assert not over, f"deliveries handled more than {DELIVERIES} times: {over}"
    assert not new, f"handlers published new messages on redelivery: {new}"
    assert not extra, f"messages seen other than {DELIVERIES} times: {extra}"
    assert not changed, f"redelivery changed the databases: {changed}"
    assert not [found for found in problems if found], problems
    assert not outages, outages


def run_flow(system, capture, on_message=None):
    """The flow, over HTTP; the ids it made. Messages are collected (and
    handed to `on_message`) as the flow goes."""
    def collect():
        for captured in capture.drain():
            if on_message and captured.message_id not in seen:
                on_message(captured)
            seen.add(captured.message_id)
        return True
    seen = {message.message_id for message in capture.seen}

    owner = flows.sign_up(system, "owner")
    ok(flows.send(lambda: system.api.post("/v1/auth/password-reset", {"email": owner.email})),
       202)
    coorganizer = flows.sign_up(system, "coorganizer", verified=False)
    verify_by_a_second_link(system, coorganizer)
    system.mailbox.wait_for(to=owner.email, subject_contains=SUBJECTS["password_reset"])
    collect()
    event = flows.create_event(owner)
    collect()
    sponsor = ok(flows.send(lambda: owner.api.post(f"/v1/events/{event['id']}/sponsors",
                                                   {"name": "Red Hat", "level": 1})), 201)
    ok(flows.put_image(owner, f"/v1/events/{event['id']}/images/original", flows.png("teal")))
    ok(flows.put_image(owner, f"/v1/sponsors/{sponsor['id']}/logo",
                       flows.png("crimson", 400, 200)))
    dropped = ok(flows.send(lambda: owner.api.post(f"/v1/events/{event['id']}/sponsors",
                                                   {"name": "Globex", "level": 2})), 201)
    ok(flows.send(lambda: owner.api.delete(f"/v1/sponsors/{dropped['id']}")), 204)
    ok(flows.send(lambda: owner.api.patch(f"/v1/events/{event['id']}", {"state": "published"})))
    collect()
    sent = flows.invite(owner, event["id"], coorganizer.email, "coorganizer")
    first = flows.invitation_link(system, coorganizer.email)
    ok(flows.send(lambda: owner.api.post(f"/v1/role-invites/{sent['id']}/resend")), 202)
    resent = flows.invitation_link(system, coorganizer.email, seen={first})
    accepted = ok(flows.accept_by_link(coorganizer, resent))
    assert accepted["role_granted"] is True, accepted
    collect()
    copied = ok(flows.copy(coorganizer, event["id"], name="PyCon copy"), 201)

    def copy_media_in():
        collect()
        return flows.media_settled(system, copied["id"]) and flows.live_keys(
            system, copied["id"])
    flows.await_value(copy_media_in)
    assert ok(flows.send(lambda: owner.api.delete(f"/v1/events/{copied['id']}")), 204) is None

    def copy_deleted_announced():
        collect()
        return any(message.event_type == "event.deleted"
                   and message.payload.get("event_id") == copied["id"]
                   for message in capture.seen)
    flows.await_value(copy_deleted_announced)
    return {"owner": owner.id, "coorganizer": coorganizer.id, "event": event["id"],
            "sponsor": sponsor["id"], "dropped": dropped["id"], "copy": copied["id"],
            "emails": {"owner": owner.email, "coorganizer": coorganizer.email}}


def verify_by_a_second_link(system, person):
    """The person asks for another verification link once the sign-up's
    has arrived, and opens the new one (the first is dead by then)."""
    mailbox = system.mailbox
    first = mailbox.link_token(mailbox.wait_for(to=person.email, subject_contains="Verify"),
                               VERIFY_PATH)
    assert flows.send(lambda: person.api.post("/v1/users/me/verify-email")).status_code == 202
    second = flows.await_value(lambda: [
        token for token in (mailbox.link_token(mail, VERIFY_PATH)
                            for mail in mailbox.mails(person.email) if "Verify" in mail["subject"])
        if token != first])[0]
    verified = ok(flows.send(lambda: system.api.post("/v1/users/verify-email",
                                                     {"token": second})))
    assert verified["email_verified"] is True, verified


def first_deliveries(captured):
    """Each message the system published, by id (the first time seen)."""
    originals = {}
    for message in captured:
        originals.setdefault(message.message_id, message)
    return originals


def deliveries(originals, times):
    """Counter of (service, event type, message id) → deliveries handled."""
    expected = Counter()
    for message in originals.values():
        for handler in flows.consumers_of(message.event_type):
            expected[(handler.service, message.event_type, message.message_id)] = times
    return expected


def snapshot(system, made):
    """Every row an effect of the flow writes, as plain values."""
    events = sorted({flow[key] for flow in made for key in ("event", "copy")})
    by_event = {"ids": events}
    return {
        "roles": flows.rows(system, "roles",
                            "SELECT id, user_id, event_id, role FROM users_events_roles"
                            " WHERE event_id = ANY(:ids) ORDER BY id", **by_event),
        "known": flows.rows(system, "roles",
                            "SELECT id, identifier, copied_from_id, deleted_at FROM known_events"
                            " WHERE id = ANY(:ids) ORDER BY id", **by_event),
        "media": flows.rows(system, "media",
                            "SELECT id, event_id, owner_kind, owner_id, slot, public_key,"
                            " deleted_at FROM media WHERE event_id = ANY(:ids) ORDER BY id",
                            **by_event),
        "media visibility": flows.rows(system, "media",
                                       "SELECT * FROM event_visibility"
                                       " WHERE event_id = ANY(:ids) ORDER BY event_id",
                                       **by_event),
        "media owners deleted": flows.rows(system, "media",
                                           "SELECT * FROM deleted_owners WHERE event_id ="
                                           " ANY(:ids) ORDER BY owner_kind, owner_id",
                                           **by_event),
        "media versions": flows.rows(system, "media",
                                     "SELECT event_id, version FROM event_media_versions"
                                     " WHERE event_id = ANY(:ids) ORDER BY event_id", **by_event),
        "events": flows.rows(system, "events",
                             "SELECT id, media_version, deleted_at, "
                             + ", ".join(flows.EVENT_URL_FIELDS)
                             + " FROM events WHERE id = ANY(:ids) ORDER BY id", **by_event),
        "sponsors": flows.rows(system, "events",
                               "SELECT id, event_id, logo_url FROM sponsors"
                               " WHERE event_id = ANY(:ids) ORDER BY id", **by_event),
        "mails sent": flows.rows(system, "notifications",
                                 "SELECT message_id, kind, recipient, outcome FROM sent_mails"
                                 " WHERE recipient = ANY(:emails) ORDER BY id",
                                 emails=[email for flow in made
                                         for email in flow["emails"].values()]),
        "mails caught": {email: sorted(mail["subject"] for mail in system.mailbox.mails(email))
                         for flow in made for email in flow["emails"].values()},
        "inbox": {service: flows.rows(system, service,
                                      "SELECT message_id, consumer FROM inbox"
                                      " ORDER BY consumer, message_id")
                  for service in flows.CONSUMERS},
    }


def diff(before, after):
    return [(table, before[table], after[table]) for table in before
            if before[table] != after[table]]


def check_effects(system, flow):
    """What one flow must have made, each once; the differences found."""
    found = []

    def expect(what, actual, wanted):
        if actual != wanted:
            found.append(f"{what}: {actual!r}, expected {wanted!r}")

    owner, coorganizer = flow["owner"], flow["coorganizer"]
    event, copy = flow["event"], flow["copy"]
    team = sorted([(owner, "owner"), (coorganizer, "coorganizer")])
    # roles: event.created, invite.accepted, event.copied, event.deleted
    expect(f"event {event}'s team", flows.team(system, event), team)
    expect(f"copy {copy}'s team", flows.team(system, copy), team)
    known = {row["id"]: row for row in flows.rows(
        system, "roles", "SELECT * FROM known_events WHERE id IN (:a, :b)", a=event, b=copy)}
    expect("events the roles service knows", sorted(known), sorted([event, copy]))
    if copy in known:
        expect("the copy is known as deleted", known[copy]["deleted_at"] is not None, True)
        expect("the copy is known as copied", known[copy]["copied_from_id"], event)
    if event in known:
        expect("the source is known as live", known[event]["deleted_at"], None)
    # media: event.copied duplicates the 4 event images and the sponsor logo, once;
    # event.deleted retires the copy's; event.visibility_changed, sponsor.deleted
    source_records = flows.media_records(system, event)
    copy_records = flows.media_records(system, copy)
    expect(f"event {event}'s media records", len(source_records), 5)
    expect(f"copy {copy}'s media records", len(copy_records), 5)
    expect(f"deleted copy {copy}'s live media records",
           sum(record["deleted_at"] is None for record in copy_records), 0)
    expect(f"event {event}'s visibility as media keeps it", flows.rows(
        system, "media", "SELECT public, visibility_version FROM event_visibility"
        " WHERE event_id = :id", id=event), [{"public": True, "visibility_version": 1}])
    expect("owners deleted as media knows them", flows.rows(
        system, "media", "SELECT owner_kind, owner_id FROM deleted_owners WHERE event_id"
        " IN (:a, :b) ORDER BY owner_kind", a=event, b=copy),
        [{"owner_kind": "event", "owner_id": copy},
         {"owner_kind": "sponsor", "owner_id": flow["dropped"]}])
    expect("the copy shares the source's blobs",
           sorted(record["blob_key"] for record in copy_records),
           sorted(record["blob_key"] for record in source_records))
    expect(f"event {event}'s media version", flows.media_version(system, event), 2)
    expect(f"copy {copy}'s media version", flows.media_version(system, copy), 1)
    # events: media.changed and media.copied write the URL columns, once each version
    for event_id, version in ((event, 2), (copy, 1)):
        shown = flows.shown_keys(system, event_id)
        if event_id == event:  # the deleted copy keeps showing what it showed
            expect(f"event {event_id}'s URLs", shown, flows.live_keys(system, event_id))
        expect(f"event {event_id}'s URL count", len(shown), 5)
        expect(f"event {event_id}'s shown media version",
               flows.event_row(system, event_id)["media_version"], version)
    expect("the copy is deleted", flows.event_row(system, copy)["deleted_at"] is not None, True)
    # notifications: each mail asked for sent once, and caught once
    for (who, kind), count in MAILS.items():
        email = flow["emails"][who]
        expect(f"{kind} mails sent to the {who}", flows.scalar(
            system, "notifications", "SELECT count(*) FROM sent_mails WHERE recipient = :email"
            " AND kind = :kind AND outcome = 'sent'", email=email, kind=kind), count)
        expect(f"{kind} mails caught for the {who}",
               sum(SUBJECTS[kind] in mail["subject"] for mail in system.mailbox.mails(email)),
               count)
    return found
