"""Settings read as a service starts: validated once, handed to workers
and extensions."""
from nameko.extensions import DependencyProvider
from pydantic import ValidationError

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
            key = ".".join(map(str, error["loc"]))
            name = keys.get(key) or keys.get(str(error["loc"][0]))
            where = f" (variable {variable(model, name, service)})" if name else ""
            problems.append(f"{key}{where}: {error['msg']}")
        message = f"{service or model.service} settings: " + "; ".join(problems)
        raise InvalidSettings(message) from None


class Settings(DependencyProvider):
    """`settings = Settings(EventsSettings)`: the service's settings,
    validated from the container's config as it starts (a bad value stops
    the start); every worker gets the same frozen object."""

    def __init__(self, model):
        self.model = model
        self._settings = None

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
