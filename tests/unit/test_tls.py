"""TLS to RabbitMQ and PostgreSQL is a matter of settings: an `amqps://`
AMQP_URI and nameko's AMQP_SSL for the broker, `sslmode` (and its friends)
in DATABASE_URL for the database. The settings take them, and they reach
every connection the services make. Nothing here dials a server."""
from pathlib import Path

import pytest
from kombu import Connection, Exchange
from sqlalchemy.engine import make_url

from services.events.settings import EventsSettings
from shared import relay
from shared.config import load_config
from shared.db import make_engine
from shared.settings import validated

ROOT = Path(__file__).resolve().parents[2]
TLS_OPTIONS = {"ca_certs": "/etc/ssl/certs/broker-ca.pem", "cert_reqs": 2}  # CERT_REQUIRED
BROKER = "amqps://rabbit.example:5671/"
DATABASE = ("postgresql+psycopg2://events:secret@db.example:5432/events"
            "?sslmode=verify-full&sslrootcert=/etc/ssl/certs/db-ca.pem")


@pytest.fixture
def tls_settings(monkeypatch):
    """The events service's config.yml read as `nameko run` reads it, with
    TLS asked for through its variables."""
    monkeypatch.setenv("AMQP_URI", BROKER)
    monkeypatch.setenv("AMQP_SSL", "{ca_certs: /etc/ssl/certs/broker-ca.pem, cert_reqs: 2}")
    monkeypatch.setenv("EVENTS_DATABASE_URL", DATABASE)
    monkeypatch.setenv("ENVIRONMENT", "test")
    config = load_config(ROOT / "services/events/config.yml")
    return config, validated(EventsSettings, config)


def test_the_settings_take_tls_for_the_broker_and_the_database(tls_settings):
    config, settings = tls_settings

    assert settings.AMQP_URI == BROKER
    assert settings.AMQP_SSL == config["AMQP_SSL"] == TLS_OPTIONS  # nameko reads the key too
    assert settings.DATABASE_URL == DATABASE


def test_tls_is_off_unless_asked_for():
    assert EventsSettings(ENVIRONMENT="test").AMQP_SSL is False


def test_an_amqps_uri_alone_turns_tls_on_for_every_connection_made_from_it():
    connection = Connection(BROKER)

    transport = connection.transport  # made without dialling

    assert type(transport).__name__ == "SSLTransport"
    assert connection.ssl is True


def test_the_outbox_relay_dials_the_broker_with_the_ssl_options(monkeypatch):
    dialled = []

    def connection(uri, **options):
        dialled.append((uri, options))
        raise ConnectionRefusedError("nothing listens in unit tests")
    monkeypatch.setattr(relay, "Connection", connection)
    publisher = relay.BatchPublisher(BROKER, Exchange("events.events", type="topic"),
                                     ssl=TLS_OPTIONS)

    with pytest.raises(ConnectionRefusedError):
        publisher.publish_confirmed([])
    assert dialled == [(BROKER, {"ssl": TLS_OPTIONS})]


def test_the_database_url_hands_sslmode_to_psycopg2():
    engine = make_engine(DATABASE, pool_size=1)
    try:
        _, options = engine.dialect.create_connect_args(engine.url)
    finally:
        engine.dispose()

    assert options["sslmode"] == "verify-full"
    assert options["sslrootcert"] == "/etc/ssl/certs/db-ca.pem"
    # the migrations' "create the database if missing" keeps it too
    assert make_url(DATABASE).set(database="postgres").query["sslmode"] == "verify-full"
