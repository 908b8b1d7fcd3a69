"""Fixtures shared by every tier.

Integration tests talk to the real PostgreSQL and RabbitMQ: each service gets
a test database (created and migrated once per run, emptied after each test)
and each test its own RabbitMQ vhost (nameko's `rabbit_config`, through the
management API), with the services' broker users set up on it as `make db`
sets them up (`shared.broker`): each service logs in as itself. `guest`
keeps its permissions on a test's vhost, for the test to observe with.
"""
import os
from pathlib import Path

import pytest
from psycopg2.errors import DeadlockDetected
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from shared.amqp import without_login
from shared.db import make_engine
from shared.migrate import migrate
from tests.support.broker import set_up_vhost
from tests.support.tap import wait_until

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
TIERS = ("unit", "integration", "e2e", "reliability")  # folders under tests/, and markers
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg2://root@127.0.0.1:5432/{service}_test"
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark each test with its tier, the folder under tests/ it lives in, so
    that `-m e2e` selects exactly tests/e2e (this runs before `-m` deselects)."""
    for item in items:
        path = item.path.resolve()
        if TESTS in path.parents:
            tier = path.relative_to(TESTS).parts[0]
            if tier in TIERS:
                item.add_marker(tier)


# tables whose rows the migrations seed: kept when a test database is emptied
REFERENCE_TABLES = {"roles"}


def _fresh_database(service):
    url = TEST_DATABASE_URL.format(service=service)
    migrate(ROOT / "services" / service, url)
    return url


def _empty(engine, attempts=3):
    """Empty the database once the services that may still run on it (nameko
    stops test containers after this) have finished what the test set off:
    a handler under way and the TRUNCATE could deadlock. One that starts
    after the wait still can; PostgreSQL then aborts one side, and if it
    is the TRUNCATE it waits and goes again."""
    for attempt in range(1, attempts + 1):
        wait_until(lambda: not _work_under_way(engine), timeout=15)
        try:
            with engine.begin() as conn:
                tables = conn.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                         " AND tablename <> 'alembic_version'")
                ).all()
                emptied = [table for table in tables if table not in REFERENCE_TABLES]
                conn.execute(text(f"TRUNCATE {', '.join(emptied)} RESTART IDENTITY CASCADE"))
            return
        except OperationalError as exc:
            if not isinstance(exc.orig, DeadlockDetected) or attempt == attempts:
                raise


def _work_under_way(engine):
    """How many other connections to the database are inside a statement or
    a transaction."""
    with engine.connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"))


def _database_fixtures(service):
    """`{service}_db_url` (migrated once per run), `{service}_engine`,
    `{service}_db` (emptied after the test) and `{service}_session`."""

    @pytest.fixture(scope="session", name=f"{service}_db_url")
    def db_url():
        return _fresh_database(service)

    @pytest.fixture(scope="session", name=f"{service}_engine")
    def engine(request):
        engine = make_engine(request.getfixturevalue(f"{service}_db_url"))
        yield engine
        engine.dispose()

    @pytest.fixture(name=f"{service}_db")
    def db(request):
        engine = request.getfixturevalue(f"{service}_engine")
        yield engine
        _empty(engine)

    @pytest.fixture(name=f"{service}_session")
    def session(request):
        session = sessionmaker(bind=request.getfixturevalue(f"{service}_db"))()
        yield session
        session.close()

    return db_url, engine, db, session


events_db_url, events_engine, events_db, events_session = _database_fixtures("events")
roles_db_url, roles_engine, roles_db, roles_session = _database_fixtures("roles")
media_db_url, media_engine, media_db, media_session = _database_fixtures("media")


@pytest.fixture
def service_config(rabbit_config):
    """Settings every service under test shares: its own vhost (where each
    service logs in as its own user, and a service of a test's own, which
    has none, as guest), a quick relay fallback and quick retries."""
    set_up_vhost(rabbit_config["vhost"])
    return {
        **rabbit_config,
        "AMQP_URI": without_login(rabbit_config["AMQP_URI"]),
        "ENVIRONMENT": "test",
        "OUTBOX_POLL_INTERVAL": 0.2,
        "HANDLER_RETRY_DELAYS": [0.05, 0.1],
        "max_workers": 10,
        "METRICS_ADDRESS": "",  # not served: a test runs many containers in one process
        "PUBLIC_BASE_URL": "http://media.test",  # media URLs: made by media, shown by events
    }


@pytest.fixture
def events_config(service_config, events_db_url, events_db):
    return {**service_config, "DATABASE_URL": events_db_url}


@pytest.fixture
def roles_config(service_config, roles_db_url, roles_db):
    """Cheap password hashing and a short wait for granted roles."""
    return {**service_config, "DATABASE_URL": roles_db_url, "PASSWORD_TIME_COST": 1,
            "PASSWORD_MEMORY_KIB": 1024, "GRANT_TIMEOUT": 5, "RPC_TIMEOUT": 5}


@pytest.fixture
def media_config(service_config, media_db_url, media_db, tmp_path):
    """Blobs under the test's own directory."""
    return {**service_config, "DATABASE_URL": media_db_url, "MEDIA_ROOT": str(tmp_path / "media"),
            "RPC_TIMEOUT": 5}
