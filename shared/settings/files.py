"""What is written from the services' settings models: each service's
`config.yml`, and the table of every setting for the docs.

A service's model is the settings class its `services/<name>/settings.py`
defines, found by that path (as `shared.migrate` finds migrations), so
shared imports no service.
"""
import importlib
from pathlib import Path

from pydantic_core import PydanticUndefined

from shared.settings.models import ServiceSettings, config_key, variable

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
# The {service} service's settings, written from services/{service}/settings.py
# by `python -m shared.settings write`: edit that, not this. Each value is
# ${{VARIABLE:default}}: the environment variable if it is set, else the default.

"""

LOGGING = """\
LOGGING:
  version: 1
  disable_existing_loggers: false
  formatters:
    # one JSON object per line: time, level, logger, message, service, request_id,
    # trace_id, span_id
    json:
      "()": shared.logs.JsonFormatter
      service: {service}
  handlers:
    console:
      class: logging.StreamHandler
      formatter: json
  root:
    # {level_meaning}
    level: {level}
    handlers: [console]
  loggers:
    # never below INFO: nameko's DEBUG lines hold whole RPC answers, and
    # some answers hold secrets (the mailer's link tokens)
    nameko.rpc:
      level: INFO
"""


def service_models():
    """Each service's settings model, by service name."""
    models = {}
    for path in sorted(ROOT.glob("services/*/settings.py")):
        module = importlib.import_module(f"services.{path.parent.name}.settings")
        [model] = [value for value in vars(module).values()
                   if isinstance(value, type) and issubclass(value, ServiceSettings)
                   and value.__module__ == module.__name__]
        models[model.service] = model
    return models


def config_yml(model):
    """The service's `config.yml`: each setting as `${VARIABLE:default}`,
    under a comment saying what it means; the log level in `LOGGING`."""
    lines = [HEADER.format(service=model.service)]
    for name, field in model.model_fields.items():
        if name != "LOG_LEVEL":
            lines.append(f"# {field.description}\n{name}: {_reference(model, name)}\n")
    level = model.model_fields["LOG_LEVEL"]
    lines.append(LOGGING.format(service=model.service, level_meaning=level.description,
                                level=_reference(model, "LOG_LEVEL")))
    return "".join(lines)


def settings_table(models=None):
    """Markdown: every setting of every service (`models`, by service name:
    `service_models()` unless given), with its variable, default and
    meaning; a setting that several services read alike is one row."""
    models = list((models or service_models()).values())
    rows = {}  # (key, default, meaning) -> (services, variables)
    for model in models:
        for name, field in model.model_fields.items():
            row = (config_key(model, name), _default(model, name), field.description)
            services, variables = rows.setdefault(row, ([], []))
            services.append(model.service)
            if variable(model, name) not in variables:
                variables.append(variable(model, name))
    keys = list(dict.fromkeys(key for key, _, _ in rows))
    lines = ["| setting | service | environment variable | default | meaning |",
             "|---|---|---|---|---|"]
    for (key, default, meaning), (services, variables) in sorted(
            rows.items(), key=lambda row: keys.index(row[0][0])):
        who = "all" if len(services) == len(models) else ", ".join(services)
        names = ", ".join(f"`{name}`" for name in variables)
        meaning = meaning.replace("|", "\\|")
        lines.append(f"| `{key}` | {who} | {names} | `{default}` | {meaning} |")
    return "\n".join(lines)


def _reference(model, name):
    return f"${{{variable(model, name)}:{_default(model, name)}}}"


def _default(model, name):
    """The setting's default as YAML, as `${VARIABLE:default}` reads it."""
    default = model.model_fields[name].default
    if default is PydanticUndefined:
        raise ValueError(f"{model.service}: {name} needs a default for its config.yml")
    return _yaml(default)


def _yaml(value):
    if value is None:  # `${VARIABLE:}`: YAML's null
        return ""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_path(model):
    return ROOT / "services" / model.service / "config.yml"
