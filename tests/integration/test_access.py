"""Permission checks through the roles service: every check against every
kind of user. The checks only read, so the whole module shares one roles
service on its own vhost and one team arranged in the database."""
from urllib.parse import urlparse

import pytest
from nameko.containers import ServiceContainer
from sqlalchemy import text
from sqlalchemy.orm import Session

from contracts.roles.errors import InvalidRoleData
from services.roles.models import EventRole, KnownEvent, User
from services.roles.service import RolesService
from tests.support.broker import set_up_vhost
from tests.support.services import Entrypoints

EVENT_ID, OTHER_EVENT_ID, UNKNOWN_USER_ID = 101, 202, 999999
ROLES = ["owner", "organizer", "coorganizer", "track_organizer", "moderator", "registrar"]
WHO = [*ROLES, "admin", "stranger"]  # admin: the admin flag and no role; stranger: nothing

# who passes each check on the event
PASSES = {
    "is_owner":           {"owner", "admin"},
    "is_organizer":       {"owner", "organizer", "admin"},
    "is_coorganizer":     {"owner", "organizer", "coorganizer", "admin"},
    "is_team_member":     {*ROLES, "admin"},
    "is_admin":           {"admin"},
    "reads_program":      {"owner", "organizer", "coorganizer", "track_organizer", "moderator",
                           "admin"},
    "manages_program":    {"owner", "organizer", "track_organizer", "admin"},
    "reviews_sessions":   {"owner", "organizer", "track_organizer", "moderator", "admin"},
    "reads_registrations": {"owner", "organizer", "coorganizer", "registrar", "admin"},
    "checks_in":          {"owner", "organizer", "registrar", "admin"},
}


@pytest.fixture(scope="module")
def world(request, vhost_pipeline, roles_db_url, roles_engine):
    """`(roles, ids)`: a started roles service, and the ids of a user for
    each of WHO on EVENT_ID and of "elsewhere", who holds every role on
    OTHER_EVENT_ID only."""
    with Session(roles_engine) as session:
        session.add_all([KnownEvent(id=EVENT_ID, identifier="aaaa0101"),
                         KnownEvent(id=OTHER_EVENT_ID, identifier="bbbb0202")])
        users = {who: User(email=f"{who}@example.org", name=who, password_hash="unused",
                           is_admin=who == "admin") for who in [*WHO, "elsewhere"]}
        session.add_all(users.values())
        session.flush()
        session.add_all([EventRole(user_id=users[role].id, event_id=EVENT_ID, role=role)
                         for role in ROLES])
        session.add_all([EventRole(user_id=users["elsewhere"].id, event_id=OTHER_EVENT_ID,
                                   role=role) for role in ROLES])
        session.commit()
        ids = {who: user.id for who, user in users.items()}

    broker = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    with vhost_pipeline.get() as vhost:
        set_up_vhost(vhost)
        container = ServiceContainer(RolesService, {
            "AMQP_URI": f"{broker.scheme}://{broker.hostname}:{broker.port or 5672}/{vhost}",
            "DATABASE_URL": roles_db_url, "max_workers": 10, "ENVIRONMENT": "test",
            "PASSWORD_TIME_COST": 1, "PASSWORD_MEMORY_KIB": 1024,
        })
        container.start()
        try:
            yield Entrypoints(container), ids
        finally:
            container.stop()
            with roles_engine.begin() as connection:
                connection.execute(text("TRUNCATE users, known_events, users_events_roles"
                                        " RESTART IDENTITY CASCADE"))


@pytest.mark.parametrize("check, who", [(check, who) for check in PASSES for who in WHO])
def test_each_check_passes_exactly_the_users_of_its_row(world, check, who):
    roles, ids = world
    assert roles.has_access(ids[who], check, EVENT_ID) is (who in PASSES[check])


def test_a_role_on_another_event_grants_nothing_on_this_one(world):
    roles, ids = world
    for check in PASSES:
        expected = check != "is_admin"
        assert roles.has_access(ids["elsewhere"], check, OTHER_EVENT_ID) is expected, check
        assert roles.has_access(ids["elsewhere"], check, EVENT_ID) is False, check


def test_is_admin_is_checked_without_an_event(world):
    roles, ids = world
    assert roles.has_access(ids["admin"], "is_admin", None) is True
    for who in [*ROLES, "stranger"]:
        assert roles.has_access(ids[who], "is_admin", None) is False, who


def test_an_unknown_user_passes_nothing(world):
    roles, _ = world
    for check in PASSES:
        assert roles.has_access(UNKNOWN_USER_ID, check, EVENT_ID) is False, check
    assert roles.has_access(UNKNOWN_USER_ID, "is_admin", None) is False


def test_an_unknown_permission_is_refused(world):
    roles, ids = world
    for permission in ("is_superuser", "owner", "IS_OWNER", "", None, 1):
        with pytest.raises(InvalidRoleData, match="no permission"):
            roles.has_access(ids["admin"], permission, EVENT_ID)


def test_a_bad_user_id_is_refused(world):
    roles, _ = world
    for user_id in ("ana", "1.5", 0, -1, 2**63, True, None):
        with pytest.raises(InvalidRoleData, match="user_id"):
            roles.has_access(user_id, "is_owner", EVENT_ID)


def test_a_bad_event_id_is_refused(world):
    roles, ids = world
    for permission, event_id in (("is_owner", "pycon"), ("is_owner", 0), ("is_owner", None),
                                 ("is_admin", -1), ("is_coorganizer", [EVENT_ID])):
        with pytest.raises(InvalidRoleData, match="event_id"):
            roles.has_access(ids["admin"], permission, event_id)
