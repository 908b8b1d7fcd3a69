"""Settings: one typed object per service, each setting declared once.

A service's settings are a model in `services/<name>/settings.py`: each field
is a setting with its type, default, environment variable and meaning
(`setting(...)`). The bases here declare what the shared machinery reads –
`ServiceSettings` (every service), `DatabaseSettings`, `OutboxSettings`,
`ConsumerSettings` – so a service declares only its own. Its `config.yml` is
written from the model (`python -m shared.settings write`; `files`).

`settings = Settings(EventsSettings)` on a service validates the container's
config into the model once, as the container starts, and hands every worker
that one frozen object; a bad value stops the start with `InvalidSettings`,
naming the setting and its variable. Extensions read theirs with
`settings_of`.
"""
from shared.settings.files import config_yml, service_models, settings_table
from shared.settings.models import (
    Blank,
    ConsumerSettings,
    DatabaseSettings,
    OutboxSettings,
    ReadCacheSettings,
    ServiceSettings,
    config_key,
    database_url,
    metrics_address,
    setting,
    variable,
)
from shared.settings.provider import (
    BrokerLoginRefused,
    InvalidSettings,
    Settings,
    broker_uri,
    settings_of,
    validated,
)

__all__ = [
    "Blank", "BrokerLoginRefused", "ConsumerSettings", "DatabaseSettings", "InvalidSettings",
    "OutboxSettings", "ReadCacheSettings", "ServiceSettings", "Settings", "broker_uri",
    "config_key", "config_yml", "database_url", "metrics_address", "service_models", "setting",
    "settings_of", "settings_table", "validated", "variable",
]
