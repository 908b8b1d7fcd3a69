"""Scenario 6, races: requests that contend for the same thing, sent over
HTTP at the same moment (green threads, each with its own connection), each
ending in one consistent result.

- the same invite accepted by two requests at once (by its id, by the
  token of the link mailed to the invitee, or one of each): one 200, the
  other 409 `invite_closed` (or a 200 naming the same acceptance); one role
  row, one `invite.accepted`;
- two owner invites, to two users, accepted at once: one owner at the end;
  the other is refused (409) with no role, or ends an organizer; the old
  owner is an organizer;
- one copy `Idempotency-Key` sent by ten requests at once: the contract is
  that every request answers 201 with the one copy (the same body), as a
  sequential retry does; one copy in the database, one `event.copied`, one
  team, one set of media records;
- an event's image replaced while the event is copied: the copy holds the
  old image or the new one, the same in every rendition (the new one if
  the copy was asked for once the new image was committed); the source
  holds the new one; every live media record is one the events service
  shows, and the other way round (no orphans);
- as many different invites accepted at once as the roles service has
  workers: each answers 200 with its role granted.

A request answered 503 is sent again, as a careful client does; a 503 (or
a database error in the services' logs) that the shared PostgreSQL
refusing connections does not explain fails the test. Every user has
verified their email by the mailed link, as an invitee must.
"""
import time
import uuid
from collections import Counter
from functools import partial

import eventlet
import pytest

from tests.reliability import flows
from tests.reliability.conftest import scaled
from tests.support.http import ok

COPIERS = 10
# how the two acceptances of one invite are sent
ACCEPTS = (("by id", "by id"), ("by link", "by link"), ("by link", "by id"))
# how the image upload and the copy overlap (see replace_while_copying)
MODES = ("together", "copy answered, then upload", "upload committed, then copy")


@pytest.fixture
def capture(system):
    capture = flows.Capture(flows.amqp_uri(system))
    yield capture
    capture.close()


@pytest.fixture
def retried(system):
    """How many requests this test sent again after a 503 (`retried()`),
    and which of those 503s, and of the errors the services logged, the
    shared PostgreSQL refusing connections does not explain
    (`retried.unexplained()`)."""
    start, marks = len(flows.RETRIED_503), flows.log_marks(system)

    class Retried:
        start = len(flows.RETRIED_503)

        def __call__(self):
            return len(flows.RETRIED_503) - start

        def unexplained(self):
            return flows.unexplained_503s(start) + flows.unexplained_outages(system, marks)
    return Retried()


def statuses(responses):
    """Each answer's status; an exception (no answer) shows as its repr."""
    return [getattr(response, "status_code", repr(response)) for response in responses]


def published(capture, event_type, **where):
    """The distinct messages of `event_type` captured so far whose payload
    has the `where` values."""
    capture.drain()
    return {message.message_id for message in capture.seen if message.event_type == event_type
            and all(message.payload.get(key) == value for key, value in where.items())}


def test_the_same_invite_accepted_twice_at_once(system, capture, report, retried):
    rounds = scaled(10, 50)
    owner = flows.sign_up(system, "owner")
    event = flows.create_event(owner)
    outcomes, wrong = Counter(), []
    started = time.monotonic()
    for number in range(rounds):
        invitee = flows.sign_up(system, "invitee")
        sent = flows.invite(owner, event["id"], invitee.email, "coorganizer")
        token = flows.invitation_link(system, invitee.email)
        ways = ACCEPTS[number % len(ACCEPTS)]

        def accept(way, invite_id=sent["id"], token=token, invitee=invitee):
            client = invitee.session()
            if way == "by link":
                return partial(client.post, "/v1/role-invites/accept", {"token": token})
            return partial(client.patch, f"/v1/role-invites/{invite_id}", {"status": "accepted"})

        answers = flows.at_once(*[partial(flows.send, accept(way)) for way in ways])
        codes = sorted(statuses(answers))
        outcomes[(" and ".join(ways), *codes)] += 1
        flows.await_quiet(system)
        found = {
            "answers": codes, "accepted": ways,
            "granted": [answer.json().get("role_granted") for answer in answers
                        if answer.status_code == 200],
            "refused": [answer.json()["code"] for answer in answers
                        if answer.status_code == 409],
            "role rows": [row for row in flows.team(system, event["id"])
                          if row[0] == invitee.id],
            "invite.accepted": len(published(capture, "invite.accepted",
                                             invite_id=sent["id"])),
        }
        if not (codes in ([200, 409], [200, 200]) and all(found["granted"])
                and found["refused"] in ([], ["invite_closed"])
                and found["role rows"] == [(invitee.id, "coorganizer")]
                and found["invite.accepted"] == 1):
            wrong.append(found)
    flows.await_quiet(system)
    outages = retried.unexplained()
    report(scenario="race: one invite accepted twice at once", injected="2 concurrent accepts",
           requested=rounds * 2,
           completed=sum(count * sum(code in (200, 409) for code in codes[1:])
                         for codes, count in outcomes.items()), lost=0,
           duplicated=sum(len(found["role rows"]) > 1 or found["invite.accepted"] > 1
                          for found in wrong),
           passed=not wrong and not outages, retried_503=retried(), outages=flows.tally(outages),
           outcomes={str(key): value for key, value in outcomes.items()},
           seconds=round(time.monotonic() - started, 1))

    assert not wrong, wrong
    assert not outages, outages


def test_two_owner_invites_accepted_at_once(system, report, retried):
    rounds = scaled(5, 30)
    outcomes, wrong = Counter(), []
    started = time.monotonic()
    for _ in range(rounds):
        owner = flows.sign_up(system, "owner")
        event = flows.create_event(owner)
        heirs = [flows.sign_up(system, "heir") for _ in range(2)]
        invites = [flows.invite(owner, event["id"], heir.email, "owner") for heir in heirs]
        answers = flows.at_once(*[
            partial(flows.send, partial(heir.session().patch, f"/v1/role-invites/{sent['id']}",
                                        {"status": "accepted"}))
            for heir, sent in zip(heirs, invites, strict=True)])
        codes = statuses(answers)
        outcomes[tuple(sorted(codes))] += 1
        flows.await_quiet(system)
        team = flows.team(system, event["id"])
        owners = [user for user, role in team if role == "owner"]
        found = {"answers": codes, "team": team}
        expected_team = None
        if len(owners) == 1 and owners[0] in (heirs[0].id, heirs[1].id):
            other = heirs[1] if owners[0] == heirs[0].id else heirs[0]
            other_answer = answers[heirs.index(other)]
            winner_answer = answers[1 - heirs.index(other)]
            expected_team = sorted([(owner.id, "organizer"), (owners[0], "owner")]
                                   + ([(other.id, "organizer")]
                                      if other_answer.status_code == 200 else []))
            consistent = (winner_answer.status_code == 200
                          and winner_answer.json().get("role_granted") is True
                          and other_answer.status_code in (200, 409)
                          and (other_answer.status_code == 200
                               or other_answer.json()["code"] == "invite_closed"))
        else:
            consistent = False
        if not consistent or team != expected_team:
            wrong.append({**found, "bodies": [getattr(answer, "text", "") for answer in answers]})
    outages = retried.unexplained()
    report(scenario="race: two owner invites accepted at once",
           injected="2 concurrent owner acceptances", requested=rounds * 2,
           completed=sum(count * sum(code in (200, 409) for code in codes)
                         for codes, count in outcomes.items()), lost=0,
           duplicated=sum(len([1 for _, role in found["team"] if role == "owner"]) > 1
                          for found in wrong),
           passed=not wrong and not outages, retried_503=retried(), outages=flows.tally(outages),
           outcomes={str(key): value for key, value in outcomes.items()},
           seconds=round(time.monotonic() - started, 1))

    assert not wrong, wrong
    assert not outages, outages


def test_one_idempotency_key_sent_by_ten_requests_at_once(system, capture, report, retried):
    rounds = scaled(2, 10)
    owner = flows.sign_up(system, "owner")
    wrong, copies_made = [], 0
    started = time.monotonic()
    for number in range(rounds):
        event = flows.create_event(owner, name=f"Keyed {number}")
        ok(flows.put_image(owner, f"/v1/events/{event['id']}/images/original",
                           flows.png("olive")))
        key = f"race-{event['id']}"
        answers = flows.at_once(*[
            partial(flows.send, partial(owner.session().post, f"/v1/events/{event['id']}/copy",
                                        {"name": "Keyed copy"},
                                        headers={"Idempotency-Key": key}))
            for _ in range(COPIERS)])
        codes = statuses(answers)
        bodies = [answer.json() for answer in answers if answer.status_code == 201]
        copies = flows.rows(system, "events", "SELECT id, identifier FROM events"
                            " WHERE copied_from_id = :id", id=event["id"])
        copies_made += len(copies)
        found = {"answers": Counter(codes), "copies": copies,
                 "distinct bodies": len({str(sorted(body.items())) for body in bodies}),
                 "retried 503s": flows.unexplained_503s(retried.start)}
        rounds_run = number + 1
        if codes != [201] * COPIERS or len(copies) != 1 or found["distinct bodies"] != 1:
            wrong.append(found)
            continue
        copy = copies[0]
        if bodies[0]["id"] != copy["id"] or bodies[0]["identifier"] != copy["identifier"]:
            wrong.append({**found, "answered": bodies[0]})
            continue
        flows.await_value(lambda copy=copy: flows.media_settled(system, copy["id"])
                          and len(flows.live_keys(system, copy["id"])) == 4)
        flows.await_quiet(system)
        effects = {
            "event.copied": len(published(capture, "event.copied", source_event_id=event["id"])),
            "copy requests": flows.scalar(system, "events", "SELECT count(*) FROM copy_requests"
                                          " WHERE idempotency_key = :key", key=key),
            "team": flows.team(system, copy["id"]),
            "media records": len(flows.media_records(system, copy["id"])),
            "media version": flows.media_version(system, copy["id"]),
        }
        if effects != {"event.copied": 1, "copy requests": 1, "team": [(owner.id, "owner")],
                       "media records": 4, "media version": 1}:
            wrong.append({**found, **effects})
        if found["retried 503s"]:
            break  # shown; a round answered 503 costs seconds of waiting
    rounds = rounds_run
    outages = retried.unexplained()
    report(scenario="race: one Idempotency-Key, 10 requests at once",
           injected=f"{COPIERS} concurrent copies with one key", requested=rounds * COPIERS,
           completed=rounds * COPIERS - sum(sum(found["answers"].values()) - found["answers"][201]
                                            for found in wrong),
           lost=0, duplicated=copies_made - rounds, passed=not wrong and not outages,
           retried_503=retried(), outages=flows.tally(outages),
           seconds=round(time.monotonic() - started, 1))

    assert not wrong, wrong
    assert not outages, outages


def test_an_image_replaced_while_the_event_is_copied(system, report, retried):
    rounds = scaled(6, 30)
    owner = flows.sign_up(system, "owner")
    outcomes, wrong = Counter(), []
    started = time.monotonic()
    for number in range(rounds):
        event = flows.create_event(owner, name=f"Pictured {number}")
        ok(flows.put_image(owner, f"/v1/events/{event['id']}/images/original",
                           flows.png("maroon")))
        flows.await_value(lambda event=event: flows.media_settled(system, event["id"]))
        mode = MODES[number % len(MODES)]
        replace, copy = replace_while_copying(system, owner, event["id"], mode,
                                              flows.png(f"#{number % 256:02x}8040"))
        if statuses([replace, copy]) != [200, 201]:
            wrong.append({"answers": statuses([replace, copy]),
                          "bodies": [getattr(answer, "text", "") for answer in (replace, copy)]})
            continue
        copy_id = copy.json()["id"]
        for event_id in (event["id"], copy_id):
            flows.await_value(lambda event_id=event_id: flows.media_settled(system, event_id))
        flows.await_quiet(system)
        source = flows.media_records(system, event["id"])
        old = {record["blob_key"] for record in source if record["deleted_at"] is not None}
        new = {record["blob_key"] for record in source if record["deleted_at"] is None}
        copied = flows.media_records(system, copy_id)
        copied_blobs = {record["blob_key"] for record in copied}
        outcome = "old" if copied_blobs == old else "new" if copied_blobs == new else "mixed"
        outcomes[f"{mode}: {outcome}"] += 1
        found = {
            "copy has": outcome,
            "copy records": len(copied),
            "copy live records": sum(record["deleted_at"] is None for record in copied),
            "source old/new records": (len(old), len(new)),
            "source shows its live records": flows.shown_keys(system, event["id"])
            == flows.live_keys(system, event["id"]),
            "copy shows its live records": flows.shown_keys(system, copy_id)
            == flows.live_keys(system, copy_id),
            "source shows": sorted(flows.shown_keys(system, event["id"])),
        }
        # a copy asked for once the new image was committed can only hold the new one
        allowed = ("new",) if mode == "upload committed, then copy" else ("old", "new")
        if found != {"copy has": outcome if outcome in allowed else f"one of {allowed}",
                     "copy records": 4, "copy live records": 4,
                     "source old/new records": (4, 4), "source shows its live records": True,
                     "copy shows its live records": True,
                     "source shows": sorted(("event", field)
                                            for field in flows.RENDITION_FIELDS)}:
            wrong.append(found)
    outages = retried.unexplained()
    report(scenario="race: image replaced while the event is copied",
           injected="concurrent image upload and copy", requested=rounds * 2,
           completed=rounds * 2 - len(wrong), lost=0, duplicated=0,
           passed=not wrong and not outages, retried_503=retried(), outages=flows.tally(outages),
           outcomes=dict(outcomes), seconds=round(time.monotonic() - started, 1))

    assert not wrong, wrong
    assert not outages, outages


def test_as_many_invites_accepted_at_once_as_the_roles_service_has_workers(
        system, report, retried):
    """Different invites, each accepted by its own invitee, all at once: as
    many as the roles service has workers. Each acceptance answers 200 with
    its role granted (the contract: "on acceptance a user-event-role row is
    created"), and each invitee holds the role once."""
    workers = int(system.env.get("ROLES_MAX_WORKERS", 10))
    rounds = scaled(3, 6)
    owner = flows.sign_up(system, "owner")
    event = flows.create_event(owner)
    outcomes, wrong, granted_in_the_end = Counter(), [], 0
    started = time.monotonic()
    for _ in range(rounds):
        invitees = list(eventlet.GreenPool(workers).imap(
            lambda _: flows.sign_up(system, "invitee"), range(workers)))
        invites = [flows.invite(owner, event["id"], invitee.email, "coorganizer")
                   for invitee in invitees]
        sent_at = time.monotonic()
        answers = flows.at_once(*[
            partial(flows.send, partial(invitee.session().patch,
                                        f"/v1/role-invites/{sent['id']}", {"status": "accepted"}))
            for invitee, sent in zip(invitees, invites, strict=True)])
        answered_in = round(time.monotonic() - sent_at, 1)
        codes = statuses(answers)
        granted = [answer.json().get("role_granted") for answer in answers
                   if answer.status_code == 200]
        outcomes[str(sorted(Counter(codes).items()))] += 1
        flows.await_quiet(system)
        team = flows.team(system, event["id"])
        rows = {invitee.id: [role for user, role in team if user == invitee.id]
                for invitee in invitees}
        granted_in_the_end += sum(roles == ["coorganizer"] for roles in rows.values())
        if codes != [200] * workers or granted != [True] * workers or any(
                roles != ["coorganizer"] for roles in rows.values()):
            wrong.append({"answers": Counter(codes), "granted": Counter(granted),
                          "answered in seconds": answered_in,
                          "bodies": sorted({answer.text[:200] for answer in answers
                                            if answer.status_code != 200}),
                          "role rows": Counter(len(roles) for roles in rows.values())})
            break  # shown; a round that goes wrong costs seconds of waiting
    rounds = sum(outcomes.values())
    outages = retried.unexplained()
    report(scenario=f"race: {workers} different invites accepted at once",
           injected=f"{workers} concurrent accepts (= roles max_workers)",
           requested=rounds * workers,
           completed=rounds * workers - sum(found["answers"].total() - found["answers"][200]
                                            for found in wrong),
           lost=0, duplicated=0, passed=not wrong and not outages, retried_503=retried(),
           outages=flows.tally(outages), outcomes=dict(outcomes),
           granted_in_the_end=granted_in_the_end, seconds=round(time.monotonic() - started, 1))

    assert not wrong, wrong
    assert not outages, outages


def replace_while_copying(system, owner, event_id, mode, image):
    """Replace the event's image and copy the event, overlapping as `mode`
    says; the two answers (upload, copy).

    - together: both requests sent at once;
    - copy answered, then upload: the upload is sent the moment the copy
      answers, while the media service may still be duplicating its media;
    - upload committed, then copy: the copy is sent the moment the media
      database holds the new image, while the upload's request is still
      telling the events service about it.
    """
    upload = partial(flows.send, partial(owner.session().put,
                                         f"/v1/events/{event_id}/images/original",
                                         data=image, headers={"Content-Type": "image/png"}))
    copy = partial(flows.send, partial(owner.session().post, f"/v1/events/{event_id}/copy",
                                       {"name": "Copied meanwhile"},
                                       headers={"Idempotency-Key": str(uuid.uuid4())}))
    if mode == "together":
        return flows.at_once(upload, copy)
    if mode == "copy answered, then upload":
        copied = copy()
        return upload(), copied
    uploading = eventlet.spawn(upload)
    flows.await_value(lambda: uploading.dead or any(
        record["deleted_at"] for record in flows.media_records(system, event_id)),
        interval=0.002)
    copied = copy()
    return uploading.wait(), copied
