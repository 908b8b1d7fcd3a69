"""Each event's team, kept by the roles service's handlers: the creator
becomes owner, a copy gets the source's team, an accepted invite grants its
role; each exactly once, retried when it fails for a while, dead-lettered
when it cannot succeed. Real PostgreSQL and RabbitMQ, real events service."""
import eventlet
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from contracts.errors import EventNotFound
from contracts.events.messages import EventCopied, EventCreated, EventDeleted
from contracts.roles.errors import EventNotReady
from contracts.roles.messages import InviteAccepted
from services.roles import team
from services.roles.models import EventRole, KnownEvent, RoleInvite
from services.roles.service import RolesService
from shared import deadletters
from tests.support.broker import publish_event, queue_depth
from tests.support.proxy import TcpProxy
from tests.support.services import start_service
from tests.support.tap import wait_until

CREATED_QUEUE = "evt-events-event.created--roles.on_event_created"
COPIED_QUEUE = "evt-events-event.copied--roles.on_event_copied"


def team_of(roles, event, seen_by):
    """The event's team as `seen_by` (a member, coorganizer+) sees it."""
    return sorted((member["user_id"], member["role"])
                  for member in roles.acting(seen_by).list_event_roles(event["id"]))


def role_rows(session, **where):
    return session.scalar(select(func.count()).select_from(EventRole).filter_by(**where))


def publish(roles, message):
    """Publish `message` as its source's outbox relay would."""
    publish_event(roles.container.config["AMQP_URI"], message.to_payload(), message.message_id,
                  source=message.source, event_type=message.event_type)


# the creator is the owner, at once


def test_the_creator_of_an_event_is_its_owner(roles, sign_up, new_event):
    ana = sign_up("ana")
    event = new_event(ana)

    assert team_of(roles, event, ana) == [(ana["id"], "owner")]


def test_the_creator_can_act_as_owner_as_soon_as_await_event_returns(
        roles, events_beside_roles, sign_up, monkeypatch):
    # a slow handler opens the window that await_event closes
    handle = team.on_event_created

    def slow_on_event_created(session, message):
        eventlet.sleep(0.3)
        handle(session, message)
    monkeypatch.setattr(team, "on_event_created", slow_on_event_created)
    ana = sign_up("ana")

    event = events_beside_roles.acting(ana["id"]).create_event(EVENT)
    assert roles.has_access(ana["id"], "is_owner", event["id"]) is False  # the window
    roles.await_event(event["id"])

    assert roles.has_access(ana["id"], "is_owner", event["id"]) is True


def test_no_creator_meets_the_window_when_callers_await_the_event(
        roles, events_beside_roles, sign_up):
    ana = sign_up("ana")
    for _ in range(20):
        event = events_beside_roles.acting(ana["id"]).create_event(EVENT)
        roles.await_event(event["id"])
        assert roles.has_access(ana["id"], "is_owner", event["id"]) is True


def test_await_event_gives_up_after_the_grant_timeout(
        container_factory, roles_config):
    roles = start_service(container_factory, RolesService, {**roles_config, "GRANT_TIMEOUT": 0.2})

    with pytest.raises(EventNotReady):
        roles.await_event(424242)


def test_a_copy_gets_the_source_team_with_its_one_owner(
        roles, events_beside_roles, sign_up, new_event):
    ana, ben, cy = sign_up("ana"), sign_up("ben", verified=True), sign_up("cy", verified=True)
    source = new_event(ana)
    for user, role in ((ben, "coorganizer"), (cy, "registrar")):
        invite = roles.acting(ana["id"]).create_invite(
            source["id"], {"email": user["email"], "role": role}
        )
        roles.acting(user["id"]).update_invite(invite["id"], {"status": "accepted"})

    copy = events_beside_roles.acting(ben["id"]).copy_event(source["id"])
    roles.await_event(copy["id"])

    assert team_of(roles, copy, ana) == [
        (ana["id"], "owner"),
        (ben["id"], "coorganizer"),
        (cy["id"], "registrar"),
    ]
    assert roles.has_access(ben["id"], "is_coorganizer", copy["id"]) is True


def test_a_deleted_event_takes_no_more_invites(
    roles, events_beside_roles, sign_up, new_event, roles_session
):
    ana = sign_up("ana")
    event = new_event(ana)

    events_beside_roles.acting(ana["id"]).delete_event(event["id"])
    wait_until(
        lambda: roles_session.scalar(
            select(KnownEvent.deleted_at)
            .where(KnownEvent.id == event["id"])
            .execution_options(populate_existing=True)
        )
    )

    with pytest.raises(EventNotFound):
        roles.acting(ana["id"]).create_invite(
            event["id"], {"email": "ben@example.org", "role": "coorganizer"}
        )


# exactly once


def test_invite_accepted_delivered_three_times_grants_one_role(
    roles, sign_up, new_event, roles_session
):
    ana, ben = sign_up("ana"), sign_up("ben")
    event = new_event(ana)
    invite = roles.acting(ana["id"]).create_invite(
        event["id"], {"email": ben["email"], "role": "moderator"}
    )
    # accepted, the role not granted yet: the service stopped between the two
    roles_session.execute(
        update(RoleInvite).where(RoleInvite.id == invite["id"]).values(status="accepted")
    )
    roles_session.commit()
    message = InviteAccepted(
        invite_id=invite["id"], event_id=event["id"], user_id=ben["id"], email=ben["email"],
        role="moderator",
    )

    for _ in range(3):
        publish(roles, message)

    wait_until(lambda: roles.has_access(ben["id"], "reviews_sessions", event["id"]))
    roles.container.stop()  # every delivery handled or back in its queue
    assert role_rows(roles_session, user_id=ben["id"], event_id=event["id"]) == 1
    assert (
        queue_depth(
            roles.container.config["AMQP_URI"],
            "evt-roles-invite.accepted--roles.on_invite_accepted",
        )
        == 0
    )


def test_event_created_delivered_three_times_makes_one_owner(roles, sign_up, roles_session):
    ana = sign_up("ana")
    message = EventCreated(event_id=77, identifier="abcdef12", owner_id=ana["id"])

    for _ in range(3):
        publish(roles, message)

    roles.await_event(77)
    roles.container.stop()
    assert role_rows(roles_session, event_id=77) == 1
    assert queue_depth(roles.container.config["AMQP_URI"], CREATED_QUEUE) == 0


# failures


def test_a_copy_announced_before_its_source_is_retried_until_the_source_team_exists(
    container_factory, roles_config, sign_up_with, roles_session
):
    roles = start_service(
        container_factory, RolesService, {**roles_config, "HANDLER_RETRY_DELAYS": [0.5, 1, 2]}
    )
    amqp_uri = roles.container.config["AMQP_URI"]
    ana = sign_up_with(roles, "ana")
    publish(
        roles,
        EventCopied(
            source_event_id=1,
            source_identifier="aaaaaaaa",
            event_id=2,
            identifier="bbbbbbbb",
            actor_id=ana["id"],
            sponsor_ids={},
        ),
    )
    wait_until(lambda: queue_depth(amqp_uri, f"{COPIED_QUEUE}.retry.1"))  # it failed once

    publish(roles, EventCreated(event_id=1, identifier="aaaaaaaa", owner_id=ana["id"]))
    roles.await_event(2)

    assert team_of(roles, {"id": 2}, ana) == [(ana["id"], "owner")]
    assert deadletters.list_dead_letters(amqp_uri, "roles") == []


def test_a_handler_that_loses_its_database_is_retried_and_succeeds(
    container_factory, roles_config, roles_db_url, sign_up_with
):
    url = make_url(roles_db_url)
    proxy = TcpProxy(url.port)
    roles = start_service(
        container_factory,
        RolesService,
        {
            **roles_config,
            "HANDLER_RETRY_DELAYS": [1, 1, 1],
            "DATABASE_URL": url.set(port=proxy.port).render_as_string(hide_password=False),
        },
    )
    amqp_uri = roles.container.config["AMQP_URI"]
    ana = sign_up_with(roles, "ana")
    try:
        proxy.cut()
        publish(roles, EventCreated(event_id=5, identifier="abcdef12", owner_id=ana["id"]))
        wait_until(lambda: queue_depth(amqp_uri, f"{CREATED_QUEUE}.retry.1"))
        proxy.restore()

        roles.await_event(5)
        assert team_of(roles, {"id": 5}, ana) == [(ana["id"], "owner")]
    finally:
        roles.container.stop()
        proxy.close()
    assert deadletters.list_dead_letters(amqp_uri, "roles") == []


def test_a_message_that_can_never_be_handled_ends_in_the_dead_letter_queue(
    roles, roles_session
):
    amqp_uri = roles.container.config["AMQP_URI"]
    message = EventCreated(event_id=88, identifier="abcdef12", owner_id=999)  # never signed up

    publish(roles, message)

    [letter] = wait_until(lambda: deadletters.list_dead_letters(amqp_uri, "roles"))
    assert letter.message_id == str(message.message_id)
    assert "UserNotFound" in letter.error
    assert queue_depth(amqp_uri, f"{CREATED_QUEUE}.retry.2") == 0  # retried first
    assert role_rows(roles_session, event_id=88) == 0


def test_a_malformed_message_is_dead_lettered_at_once(roles, roles_session):
    amqp_uri = roles.container.config["AMQP_URI"]
    payload = EventDeleted(event_id=3, identifier="abcdef12").to_payload()
    payload["event_id"] = "three"

    publish_event(amqp_uri, payload, payload["message_id"], event_type="event.deleted")

    [letter] = wait_until(lambda: deadletters.list_dead_letters(amqp_uri, "roles"))
    assert "InvalidMessage" in letter.error
    assert queue_depth(amqp_uri, "evt-events-event.deleted--roles.on_event_deleted.retry.1") is None


EVENT = {
    "name": "PyCon",
    "starts_at": "2030-05-01T09:00:00+02:00",
    "ends_at": "2030-05-03T18:00:00+02:00",
}


@pytest.fixture
def sign_up_with():
    def sign_up_with(roles, name):
        return roles.sign_up(
            {"email": f"{name}@example.org", "password": "correct horse", "name": name}
        )

    return sign_up_with
