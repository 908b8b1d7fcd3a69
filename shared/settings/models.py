"""The settings a service declares: `setting(...)`, and the bases that
declare what the shared machinery reads."""

from typing import Annotated, ClassVar, Literal

from pydantic import (
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    field_validator,
)

from shared import actors
from shared.amqp import DEVELOPMENT_BROKER_PASSWORD

LOCAL_DATABASE = "postgresql+psycopg2://root@127.0.0.1:5432/{}"
# where each service serves `/metrics` by default (deploy/prometheus scrapes these)
METRICS_PORTS = {"gateway": 9180, "events": 9181, "roles": 9182, "media": 9183,
                 "notifications": 9184, "webhooks": 9185}


# a text setting that may be left empty: `${VAR:}` reads as YAML's null
Blank = Annotated[str, BeforeValidator(lambda value: "" if value is None else value)]


def setting(default=..., description="", *, env=None, **constraints):
    """A setting: its default (none: required), its meaning in one line, the
    environment variable its `config.yml` line reads (the setting's name
    unless given; `{SERVICE}` is the service's name in capitals) and pydantic
    constraints such as `gt=0`."""
    extra = {"env": env} if env else None
    return Field(default, description=description, json_schema_extra=extra, **constraints)


def database_url(database=None):
    """`DATABASE_URL`, defaulting to `database` on the local PostgreSQL."""
    return setting(
        LOCAL_DATABASE.format(database) if database else ...,
        "the service's database (`postgresql+psycopg2://` is required: plain `postgresql://`"
        " means psycopg 3 to SQLAlchemy 2)",
        env="{SERVICE}_DATABASE_URL")


def metrics_address(service=None):
    """`METRICS_ADDRESS`, defaulting to `service`'s port of `METRICS_PORTS` on 127.0.0.1."""
    return setting(
        f"127.0.0.1:{METRICS_PORTS[service]}" if service else "",
        "host:port where the service serves its Prometheus metrics at `/metrics` "
        "(`shared.metrics`); empty: not served", env="{SERVICE}_METRICS_ADDRESS")


class ServiceSettings(BaseModel):
    """What every service reads."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True,
                              validate_default=True, coerce_numbers_to_str=True)

    service: ClassVar[str] = ""  # a service's own model names it

    ENVIRONMENT: Literal["production", "development", "test"] = setting(
        "production", "`development` and `test` admit the development keys and secrets; "
        "`production` (the default) refuses them")
    AMQP_URI: str = setting(
        "pyamqp://127.0.0.1:5672//", "RabbitMQ and the vhost (a cluster's nodes `;`-separated: "
        "failed over in turn); the service logs in as its own "
        "broker user (its name) with `BROKER_PASSWORD`, unless the URI names that user and a "
        "password itself (`shared.amqp`)")
    BROKER_PASSWORD: str = setting(
        DEVELOPMENT_BROKER_PASSWORD, "the password of the service's broker user "
        "(`python -m shared.broker setup` sets the same); production refuses the development one",
        env="{SERVICE}_BROKER_PASSWORD")
    AMQP_SSL: bool | dict[str, str | int | bool] = setting(
        False, "TLS to RabbitMQ (nameko's own key): `true`, or ssl options such as `{ca_certs: "
        "/etc/ssl/ca.pem, cert_reqs: 2}`; an `amqps://` AMQP_URI turns TLS on by itself")
    QUORUM_QUEUES: bool | None = setting(
        None, "declare the service's queues as quorum queues, replicated across a RabbitMQ "
        "cluster (`shared.queues`); empty: yes in production, no in development and test")
    ACTOR_PUBLIC_KEY: str = setting(
        actors.DEVELOPMENT_PUBLIC_KEY, "the gateway's public key (base64 Ed25519), which proves "
        "who acts on a call (`shared.actors`)")
    max_workers: int = setting(10, "concurrent workers, and the size of the database pool",
                               env="{SERVICE}_MAX_WORKERS", gt=0)
    RPC_TIMEOUT: float = setting(10, "seconds a call to another service may take", gt=0)
    TRACING_ENABLED: bool = setting(
        True, "a span for each worker, its calls and the messages it writes (`shared.tracing`);"
        " false: none (to measure what tracing costs), and a trace that arrives goes on "
        "through RPC calls only")
    OTEL_EXPORTER_OTLP_ENDPOINT: Blank = setting(
        "", "an OpenTelemetry collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`), which "
        "the service sends its traces to (`shared.tracing`); empty: none recorded or sent")
    TRACE_SAMPLE_RATIO: float = setting(
        1.0, "the share of the traces a service starts that are recorded and sent, by trace "
        "id (`shared.tracing`); a trace that arrives keeps its caller's choice, so a trace is "
        "whole or absent", ge=0, le=1)
    METRICS_ENABLED: bool = setting(
        True, "count every worker: its entrypoint's calls by outcome and their time, the "
        "workers busy (`shared.metrics`); false: not (to measure what counting costs); the "
        "other metrics are counted either way")
    METRICS_ADDRESS: str = metrics_address()
    STOP_GRACE_SECONDS: float = setting(
        25, "seconds a stop may take: work under way finishes, then the process ends "
        "regardless (`shared.serve`; below Kubernetes' terminationGracePeriodSeconds)", gt=0)
    LOG_LEVEL: str = setting("INFO", "the root logger's level",
                             validation_alias=AliasPath("LOGGING", "root", "level"))


    @field_validator("QUORUM_QUEUES")
    @classmethod
    def _quorum_in_production(cls, value, info):
        if value is None:
            return info.data.get("ENVIRONMENT", "production") == "production"
        return value

    @property
    def is_production(self):
        return self.ENVIRONMENT == "production"


class DatabaseSettings(ServiceSettings):
    """A service with a database of its own (`shared.db`)."""

    DATABASE_URL: str = database_url()


class OutboxSettings(DatabaseSettings):
    """A service that publishes through its outbox (`shared.relay`)."""

    OUTBOX_POLL_INTERVAL: float = setting(
        1.0, "seconds; the relay's fallback poll (it is normally woken by `NOTIFY`)", gt=0)
    OUTBOX_BATCH_SIZE: int = setting(200, "outbox rows the relay publishes per batch", gt=0)


class ReadCacheSettings(ServiceSettings):
    """The gateway's read cache and the services whose data it keeps
    (`shared.readcache`): all of them on the same Redis and prefix."""

    READ_CACHE_URL: Blank = setting(
        "redis://127.0.0.1:6379/0", "the Redis of the gateway's read cache and of the versions "
        "that keep it fresh: the gateway, events and roles must name the same one; empty (in "
        "all three): no cache, every read is asked of its service")
    READ_CACHE_PREFIX: str = setting("open-event", "the prefix of the read cache's keys")
    READ_CACHE_TIMEOUT: float = setting(
        0.25, "seconds the read cache waits for Redis (to connect, and to answer)", gt=0)
    READ_CACHE_SECONDS: float = setting(
        60, "seconds an answer stays in the read cache at most: the longest a stale answer can "
        "live when a service cannot reach Redis to retire it (it tries again for as long)",
        gt=0)


class ConsumerSettings(ServiceSettings):
    """A service with `@consume` handlers (`shared.handlers`)."""

    HANDLER_RETRY_DELAYS: tuple[NonNegativeFloat, ...] = setting(
        (1, 5, 25), "seconds before each retry of a failing handler; then the dead-letter queue",
        min_length=1)
    MESSAGE_BATCH_SIZE: int = setting(
        50, "messages a batch handler (`shared.batches`) applies in one transaction",
        gt=0)
    MESSAGE_PREFETCH: int = setting(
        100, "unacknowledged messages RabbitMQ hands a batch handler at once (at least "
        "`MESSAGE_BATCH_SIZE`; other handlers' prefetch is `max_workers`)", gt=0)


def config_key(model, name):
    """Where the setting sits in `config.yml`: its name, or a dotted path."""
    alias = model.model_fields[name].validation_alias
    return ".".join(alias.path) if isinstance(alias, AliasPath) else name


def variable(model, name, service=None):
    """The environment variable of the setting `name` of `service`'s settings."""
    extra = model.model_fields[name].json_schema_extra or {}
    return extra.get("env", name).format(SERVICE=(service or model.service).upper())
