"""Fixtures shared by every tier.

Integration tests talk to the real PostgreSQL and RabbitMQ: each service gets
a test database (created and migrated once per run, emptied after each test)
and each test its own RabbitMQ vhost (nameko's `rabbit_config`, through the
management API).
"""
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from shared.db import make_engine
from shared.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg2://root@127.0.0.1:5432/{service}_test"
)


def _fresh_database(service):
    url = TEST_DATABASE_URL.format(service=service)
    migrate(ROOT / "services" / service, url)
    return url


def _empty(engine):
    with engine.begin() as conn:
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                 " AND tablename <> 'alembic_version'")
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def events_db_url():
    return _fresh_database("events")


@pytest.fixture(scope="session")
def events_engine(events_db_url):
    engine = make_engine(events_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def events_db(events_engine):
    """The events test database, emptied after the test."""
    yield events_engine
    _empty(events_engine)


@pytest.fixture
def events_session(events_db):
    """A session on the events test database, for arranging and asserting."""
    session = sessionmaker(bind=events_db)()
    yield session
    session.close()


@pytest.fixture
def service_config(rabbit_config):
    """Settings every service under test shares: its own vhost, a quick
    relay fallback and quick retries."""
    return {
        **rabbit_config,
        "OUTBOX_POLL_INTERVAL": 0.2,
        "HANDLER_RETRY_DELAYS": [0.05, 0.1],
        "max_workers": 10,
    }


@pytest.fixture
def events_config(service_config, events_db_url, events_db):
    return {**service_config, "DATABASE_URL": events_db_url}
