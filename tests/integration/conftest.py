"""The services as integration tests start them: real containers on the
test databases and a vhost of their own.

`events` and `media` run beside a stand-in roles service that lets every
user do everything (`roles_stub` changes that): their tests are about
events and media. `events_beside_roles`, `new_event` and
`media_beside_roles` run beside the real roles service. `notifications`
runs beside the stand-in too, whose mail lookups mint the tokens, and
mails to a real maildev (`mailbox`)."""
import itertools

import pytest
from sqlalchemy import text

from services.events.service import EventsService
from services.media.service import MediaService
from services.notifications.service import NotificationsService
from services.roles.models import EventRole
from services.roles.service import RolesService
from tests.conftest import _database_fixtures
from tests.support.broker import service_uri
from tests.support.mailbox import Mailbox
from tests.support.roles_stub import Policy, RolesStub
from tests.support.s3 import MotoServer
from tests.support.services import start_service
from tests.support.tap import EventTap

EVENT = {"name": "FOSSASIA Summit", "starts_at": "2030-03-14T09:00:00+08:00",
         "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore"}


@pytest.fixture
def roles(container_factory, roles_config):
    return start_service(container_factory, RolesService, roles_config)


@pytest.fixture
def events_beside_roles(container_factory, events_config, roles):
    """The events service on the roles service's vhost (each logs in as
    itself): its messages reach the roles service's handlers."""
    return start_service(container_factory, EventsService, events_config)


@pytest.fixture
def verify(roles):
    """`verify(user)` → the user, their email verified as a mailed link
    verifies it: the link's token from `verification_mail`, as the mailer
    asks for it, then `verify_email`."""
    def verify(user):
        return roles.verify_email(roles.verification_mail(user["id"])["token"])
    return verify


@pytest.fixture
def sign_up(roles, verify):
    """`sign_up("ana")` → a new user `ana…@example.org` with password
    "correct horse"; each call a different user. `verified=True`: their
    email verified too (an invitee's must be)."""
    numbers = itertools.count(1)

    def sign_up(name="user", verified=False):
        email = f"{name}{next(numbers)}@example.org"
        user = roles.sign_up({"email": email, "password": "correct horse",
                              "name": name.title()})
        return verify(user) if verified else user
    return sign_up


@pytest.fixture
def tap(roles, rabbit_config):
    """`tap("invite.accepted")` → an EventTap on the roles service's exchange."""
    taps = []

    def tap(routing_key):
        taps.append(EventTap(rabbit_config["AMQP_URI"], "roles", routing_key))
        return taps[-1]

    yield tap
    for opened in taps:
        opened.close()


@pytest.fixture
def new_event(events_beside_roles, roles):
    """`new_event(owner)` → an event created through the events service,
    its team (the owner) in place in the roles service."""
    def new_event(owner, **fields):
        event = events_beside_roles.acting(owner["id"]).create_event({**EVENT, **fields})
        roles.await_event(event["id"])
        return event
    return new_event


@pytest.fixture
def media_beside_roles(container_factory, media_config, events_beside_roles):
    """The media service beside the events and the real roles service, on
    their vhost."""
    return start_service(container_factory, MediaService, media_config)


@pytest.fixture
def roles_stub(container_factory, service_config, monkeypatch):
    """A stand-in roles service on the test's vhost; what it answers is the
    `Policy` returned, which the test may change: add user ids to `refused`
    (they pass no check) or `unknown` (not signed up)."""
    policy = Policy()
    monkeypatch.setattr(RolesStub, "policy", policy)
    start_service(container_factory, RolesStub,
                  {**service_config, "AMQP_URI": service_uri(service_config["AMQP_URI"], "roles")})
    return policy


@pytest.fixture
def owner(sign_up):
    return sign_up("owner")


@pytest.fixture
def event(new_event, owner):
    """An event of `owner`'s, its team in place."""
    return new_event(owner, name="Open Tech Summit")


@pytest.fixture
def member(sign_up, roles_session, event):
    """`member("coorganizer", "registrar")` → a new user holding those
    roles on `event` (rows written as an accepted invite leaves them);
    `user=` gives them to an existing user instead."""
    def member(*roles, user=None):
        user = user or sign_up(roles[0] if roles else "stranger")
        roles_session.add_all(EventRole(user_id=user["id"], event_id=event["id"], role=role)
                              for role in roles)
        roles_session.commit()
        return user
    return member


@pytest.fixture
def events(container_factory, events_config, roles_stub):
    """The events service beside the stand-in roles service."""
    return start_service(container_factory, EventsService, events_config)


@pytest.fixture
def media(container_factory, media_config, events):
    """The media service beside the events service, on its vhost."""
    return start_service(container_factory, MediaService, media_config)


@pytest.fixture
def media_root(media_config):
    """Where the media service under test keeps its blobs."""
    return media_config["MEDIA_ROOT"]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 API server, once per run (`s3` hands it to a test)."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(s3_server):
    """The S3 API server with one empty bucket, `tests.support.s3.BUCKET`."""
    s3_server.reset()
    return s3_server


notifications_db_url, notifications_engine, notifications_db, notifications_session = (
    _database_fixtures("notifications"))


@pytest.fixture(scope="session")
def mail_catcher():
    """maildev, once per run (`mailbox` hands it to a test)."""
    with Mailbox() as mailbox:
        yield mailbox


@pytest.fixture
def mailbox(mail_catcher):
    """The mail catcher, running and empty (a test may stop it, to take the
    mail server away; it is started again for the next one)."""
    mail_catcher.start()
    mail_catcher.clear()
    yield mail_catcher
    mail_catcher.start()


@pytest.fixture
def notifications_config(service_config, notifications_db_url, notifications_db, mailbox):
    """Mails to `mailbox`; a mail server that does not answer is given up
    on quickly."""
    return {**service_config, **mailbox.smtp_settings, "DATABASE_URL": notifications_db_url,
            "SMTP_TIMEOUT": 2, "RPC_TIMEOUT": 5}


@pytest.fixture
def notifications(container_factory, notifications_config, roles_stub):
    """The notifications service beside the stand-in roles service (whose
    `Policy` mints the mailed tokens), sending to `mailbox`."""
    return start_service(container_factory, NotificationsService, notifications_config)


@pytest.fixture
def effects_table(events_db):
    """`effects_table(name)` → `rows()`: a table `name` of effects on the
    events database, `(message_id, event_id)` in the order they committed,
    one row each with no unique key (so a duplicate shows); dropped after."""
    made = []

    def effects_table(name):
        with events_db.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
            conn.execute(text(f"CREATE TABLE {name} ("
                              " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                              " message_id uuid NOT NULL, event_id bigint NOT NULL)"))
        made.append(name)

        def rows():
            with events_db.connect() as conn:
                return conn.execute(text(
                    f"SELECT message_id, event_id FROM {name} ORDER BY id")).all()
        return rows

    yield effects_table
    with events_db.begin() as conn:
        for name in made:
            conn.execute(text(f"DROP TABLE {name}"))


webhooks_db_url, webhooks_engine, webhooks_db, webhooks_session = _database_fixtures("webhooks")


@pytest.fixture
def webhooks_config(service_config, webhooks_db_url, webhooks_db):
    """Posts to http:// and loopback receivers allowed (`tests.support.receiver`)."""
    return {**service_config, "DATABASE_URL": webhooks_db_url, "WEBHOOK_ALLOW_HTTP": True,
            "WEBHOOK_ALLOW_LOOPBACK": True}
