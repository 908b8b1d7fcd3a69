"""Scenarios 3 and 7: a service killed (SIGKILL) in the middle of its
work, or stopped (SIGTERM) under load, and started again. Every copy a
client was promised ends complete, none twice, and no blob is left behind;
every invitation asked for while the notifications service was stopped
and started again is mailed, once."""
import os
import signal
import uuid
from pathlib import Path

import eventlet
import pytest
from sqlalchemy import text

from tests.reliability.conftest import scaled
from tests.reliability.copies import (
    complete,
    copies_in_database,
    excess,
    expected_copy,
    media_counts,
    request_copies,
    source_event,
)
from tests.support.http import ok, sign_up
from tests.support.tap import wait_until

COPIES = scaled(16, 60)
INVITATIONS = scaled(30, 120)
INVITATION = "invites you to the team of"
CONCURRENCY = 8
SLOW_DATABASE_SECONDS = 0.02  # per chunk of data: handlers take long enough to be caught


@pytest.fixture(scope="module")
def owner(system):
    return sign_up(system.api, "owner").api


def blob_files(system):
    root = Path(system.env["MEDIA_ROOT"])
    return {path.name for path in root.rglob("*") if path.is_file()}


def blob_rows(system):
    with system.engine("media").connect() as connection:
        return set(connection.scalars(text("SELECT key FROM blobs")))


def outcome_row(system, source, outcome, scenario, injected, report):
    copy_ids = [copy_id for copy_id in outcome.copies.values() if copy_id is not None]
    drained = wait_until(lambda: complete(system, source["id"], copy_ids), timeout=120,
                         interval=0.2)
    found = copies_in_database(system, source["id"])
    expected = expected_copy(system, source["id"])
    duplicated = len(found) - len(set(copy_ids)) + excess(found.values(), expected)
    wrong = sorted({str(status) for status in outcome.statuses
                    if status not in (201, 503, "connection error")})
    passed = drained and outcome.completed == COPIES and duplicated == 0 and not wrong
    report(scenario=scenario, injected=injected, requested=COPIES,
           completed=sum(found.get(copy_id) == expected for copy_id in copy_ids),
           lost=COPIES - outcome.completed, duplicated=duplicated, passed=passed)
    assert outcome.completed == COPIES, outcome.statuses
    assert drained, {copy_id: found.get(copy_id) for copy_id in copy_ids}
    assert duplicated == 0 and set(found) == set(copy_ids)
    assert wrong == [], outcome.statuses


def test_media_killed_while_it_copies_finishes_the_work_after_a_restart(system, owner, report):
    source = source_event(owner)
    blobs_before = blob_rows(system)
    killed = {}

    def crash():
        def some_but_not_all_copied():
            copies = copies_in_database(system, source["id"])
            media = media_counts(system, copies)
            return len(copies) >= COPIES // 2 and 0 < sum(map(bool, media.values())) < COPIES
        wait_until(some_but_not_all_copied, timeout=60, interval=0.02)
        os.kill(system.pid("media"), signal.SIGKILL)
        killed["status"] = system.stop_service("media")
        system.database.restore()
        system.start_service("media")

    system.database.delay(SLOW_DATABASE_SECONDS)
    fault = eventlet.spawn(crash)
    outcome = request_copies(owner, source["id"], COPIES, CONCURRENCY)
    fault.wait()

    outcome_row(system, source, outcome, "crash in the middle",
                "media SIGKILLed while handling event.copied, then restarted", report)
    assert killed["status"] == -signal.SIGKILL
    assert blob_rows(system) == blobs_before  # copies share blobs: none new, none lost
    assert blob_files(system) == blobs_before
    system.await_healthy()


@pytest.mark.parametrize("service", ["events", "roles", "media", "gateway"])
def test_a_service_stopped_under_load_loses_no_request(system, owner, report, service):
    source = source_event(owner)
    stopped = {}

    def stop_and_start():
        wait_until(lambda: len(copies_in_database(system, source["id"])) >= COPIES // 3,
                   timeout=60, interval=0.02)
        stopped["status"] = system.stop_service(service)
        system.start_service(service)

    fault = eventlet.spawn(stop_and_start)
    outcome = request_copies(owner, source["id"], COPIES, CONCURRENCY)
    fault.wait()

    outcome_row(system, source, outcome, f"graceful stop: {service}",
                f"SIGTERM to {service} under copy load, then restarted", report)
    assert stopped["status"] == 0  # it stopped cleanly, not killed after the timeout
    system.await_healthy()


def test_the_notifications_service_stopped_while_it_mails_loses_and_doubles_no_mail(
        system, owner, report):
    """Invitations asked for one after the other; once some are mailed the
    notifications service is stopped (SIGTERM: its workers finish) and
    started again. Each invitee gets one invitation mail, recorded once."""
    event = ok(owner.post("/v1/events", {"name": "Mailed", "starts_at": "2030-06-01T09:00:00Z",
                                         "ends_at": "2030-06-02T18:00:00Z"}), 201)
    emails = [f"stop.{n}.{uuid.uuid4().hex[:8]}@example.org" for n in range(INVITATIONS)]
    stopped = {}

    def stop_and_start():
        wait_until(lambda: invitations_sent(system, emails) >= INVITATIONS // 3, timeout=60,
                   interval=0.02)
        stopped["status"] = system.stop_service("notifications")
        system.start_service("notifications")

    fault = eventlet.spawn(stop_and_start)
    answers = [owner.post(f"/v1/events/{event['id']}/role-invites",
                          {"email": email, "role": "coorganizer"}).status_code
               for email in emails]
    fault.wait()
    wait_until(lambda: invitations_sent(system, emails) >= INVITATIONS, timeout=120,
               interval=0.2)
    caught = {email: 0 for email in emails}
    for mail in system.mailbox.mails():
        for recipient in mail["to"]:
            if recipient["address"] in caught and INVITATION in mail["subject"]:
                caught[recipient["address"]] += 1
    recorded = invitations_sent(system, emails)
    lost = sum(count == 0 for count in caught.values())
    duplicated = sum(count - 1 for count in caught.values() if count > 1) + max(
        0, recorded - INVITATIONS)
    passed = answers == [201] * INVITATIONS and not lost and not duplicated
    report(scenario="graceful stop: notifications",
           injected=f"SIGTERM to notifications while {INVITATIONS} invitations were mailed,"
                    " then restarted", requested=INVITATIONS,
           completed=sum(count == 1 for count in caught.values()), lost=lost,
           duplicated=duplicated, passed=passed and stopped.get("status") == 0)

    assert answers == [201] * INVITATIONS, answers
    assert lost == 0 and duplicated == 0, caught
    assert stopped["status"] == 0  # it stopped cleanly, not killed after the timeout
    system.await_healthy()


def invitations_sent(system, emails):
    """The invitation mails to `emails` the notifications service recorded as sent."""
    with system.engine("notifications").connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM sent_mails WHERE kind = 'role_invite' AND outcome = 'sent'"
            " AND recipient = ANY(:emails)"), {"emails": emails})
