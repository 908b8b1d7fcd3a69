"""Settings read as a service starts: validated once, handed to workers
and extensions."""
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import DependencyProvider
from pydantic import ValidationError

from shared import amqp
from shared.settings.models import config_key, variable


class InvalidSettings(Exception):
    """A setting whose value its type refuses. (Not nameko's
    ConfigurationError: `nameko run` prints that one and exits with status 0.)"""


def validated(model, config, service=None):
    """`config` (a service's config dict) as `model`; InvalidSettings naming
    each refused setting and its variable (not its value: it may be secret)."""
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        keys = {config_key(model, name): name for name in model.model_fields}
        problems = []
        for error in exc.errors():
            if not error["loc"]:  # a rule of several settings, which its message names
                problems.append(error["msg"])
                continue
            key = ".".join(map(str, error["loc"]))
            name = keys.get(key) or keys.get(str(error["loc"][0]))
            where = f" (variable {variable(model, name, service)})" if name else ""
            problems.append(f"{key}{where}: {error['msg']}")
        message = f"{service or model.service} settings: " + "; ".join(problems)
        raise InvalidSettings(message) from None


class BrokerLoginRefused(SystemExit):
    """A broker login a service must not use (another user's, `guest`'s,
    none, or the development password in production). A SystemExit, as
    `services.gateway.tokens.WeakSecret`: `nameko run` prints this one line
    and stops with status 1."""


def broker_uri(settings, service):
    """The URI `service` logs in to RabbitMQ with: `AMQP_URI`, as the
    service's own broker user (its name) with `BROKER_PASSWORD`, unless the
    URI names a user and password itself. BrokerLoginRefused, in one line,
    for a URI that logs in as anyone else (`guest` included), and for the
    development password outside development and test."""
    uri = settings.AMQP_URI
    if not amqp.is_amqp(uri):  # kombu's memory:// in unit tests: no login
        return uri
    if amqp.names_user(uri):
        password, where = amqp.password_of(uri), "AMQP_URI"
        if amqp.user_of(uri) != service:
            raise BrokerLoginRefused(
                f"{service} settings: AMQP_URI logs in as {amqp.user_of(uri)!r}; the {service} "
                f"service logs in as its own broker user, {service!r}")
    else:
        password = settings.BROKER_PASSWORD
        where = variable(type(settings), "BROKER_PASSWORD", service)
        uri = amqp.with_login(uri, service, password)
    if not password:
        raise BrokerLoginRefused(f"{service} settings: {where} gives no broker password")
    if password == amqp.DEVELOPMENT_BROKER_PASSWORD and settings.is_production:
        raise BrokerLoginRefused(
            f"{service} settings: {where} is the development broker password, refused in "
            f"production (ENVIRONMENT): set the service's own")
    return uri


class Settings(DependencyProvider):
    """`settings = Settings(EventsSettings)`: the service's settings,
    validated from the container's config as the container is made (a bad
    value stops the start); every worker gets the same frozen object.

    The container's `AMQP_URI` becomes the service's broker login
    (`broker_uri`) then, before any extension reads it: nameko's consumers
    and publishers, and ours, log in as the service."""

    def __init__(self, model):
        self.model = model
        self._settings = None

    def bind(self, container, attr_name):
        instance = super().bind(container, attr_name)
        login = broker_uri(instance.settings(), container.service_name)
        container.config = {**container.config, AMQP_URI_CONFIG_KEY: login}
        return instance

    def setup(self):
        self.settings()

    def settings(self):
        """Validated on the first call, by this or another extension's setup."""
        if self._settings is None:
            self._settings = validated(self.model, self.container.config,
                                       self.container.service_name)
        return self._settings

    def get_dependency(self, worker_ctx):
        return self.settings()


def settings_of(container, model):
    """The settings an extension reads, `model` being the base that declares
    them: the service's own (its `Settings`), or, for a service that declares
    none (a test's), its config validated as `model`."""
    service = getattr(container, "service_name", None)
    for provider in getattr(container, "dependencies", ()):
        if isinstance(provider, Settings):
            settings = provider.settings()
            if not isinstance(settings, model):
                raise InvalidSettings(f"{service} settings: {type(settings).__name__} does not"
                                      f" declare {model.__name__}'s, which its extensions read")
            return settings
    return validated(model, container.config, service)
