"""Each service's settings are declared once, in its model: its config.yml
is written from it, and every value is checked as the service starts."""
import os
import subprocess
import sys

import pytest
from nameko.containers import ServiceContainer

from services.events.service import EventsService
from services.events.settings import EventsSettings
from services.gateway.service import GatewayService
from shared.config import load_config
from shared.settings import (
    DatabaseSettings,
    InvalidSettings,
    ServiceSettings,
    config_key,
    config_yml,
    service_models,
    settings_of,
    settings_table,
    validated,
    variable,
)
from tests.conftest import ROOT

MODELS = service_models()
# nameko's consumers ask for an AMQP_URI; none is reached
BROKER = {"AMQP_URI": "memory://", "ENVIRONMENT": "test"}


def config_path(service):
    return ROOT / "services" / service / "config.yml"


def test_every_service_declares_its_settings():
    assert set(MODELS) == {path.parent.name for path in ROOT.glob("services/*/service.py")}


@pytest.mark.parametrize("service", sorted(MODELS))
def test_each_config_yml_is_the_one_written_from_its_settings(service):
    assert config_path(service).read_text() == config_yml(MODELS[service]), (
        "run: python -m shared.settings write")


@pytest.mark.parametrize("service", sorted(MODELS))
def test_a_config_yml_read_without_its_variables_gives_the_declared_defaults(
        service, monkeypatch):
    model = MODELS[service]
    for name in model.model_fields:
        monkeypatch.delenv(variable(model, name), raising=False)
    monkeypatch.setenv("ENVIRONMENT", "test")  # production refuses the development keys

    assert validated(model, load_config(config_path(service))) == model(ENVIRONMENT="test")


def test_a_variable_reaches_its_setting(monkeypatch):
    monkeypatch.setenv("EVENTS_MAX_WORKERS", "3")
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")

    settings = validated(EventsSettings, load_config(config_path("events")))
    assert (settings.max_workers, settings.LOG_LEVEL) == (3, "DEBUG")


def test_a_bad_value_is_refused_naming_the_setting_and_its_variable_not_the_value():
    with pytest.raises(InvalidSettings) as refused:
        validated(EventsSettings, {"RPC_TIMEOUT": "soon", "max_workers": 0,
                                   "HANDLER_RETRY_DELAYS": []}, "events")

    message = str(refused.value)
    assert "RPC_TIMEOUT (variable RPC_TIMEOUT)" in message
    assert "max_workers (variable EVENTS_MAX_WORKERS)" in message
    assert "HANDLER_RETRY_DELAYS (variable HANDLER_RETRY_DELAYS)" in message
    assert "soon" not in message


def test_workers_and_the_shared_machinery_read_one_validated_object():
    container = ServiceContainer(EventsService, {**BROKER, "RPC_TIMEOUT": "3", "max_workers": 4})

    settings = settings_of(container, DatabaseSettings)
    assert isinstance(settings, EventsSettings)
    assert (settings.RPC_TIMEOUT, settings.max_workers) == (3.0, 4)
    assert settings_of(container, ServiceSettings) is settings


def test_settings_that_lack_what_an_extension_reads_are_refused():
    container = ServiceContainer(GatewayService, BROKER)

    with pytest.raises(InvalidSettings, match="DatabaseSettings"):
        settings_of(container, DatabaseSettings)


def test_nameko_run_stops_on_a_bad_value_naming_the_setting():
    nameko = os.path.join(os.path.dirname(sys.executable), "nameko")
    done = subprocess.run(
        [nameko, "run", "--config", "services/events/config.yml", "services.events.service"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "RPC_TIMEOUT": "soon"},
        capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert "RPC_TIMEOUT (variable RPC_TIMEOUT)" in done.stderr


def test_the_table_has_a_row_for_every_setting_of_every_service():
    rows = settings_table(MODELS).splitlines()[2:]

    for model in MODELS.values():
        for name in model.model_fields:
            key, name_of_variable = config_key(model, name), variable(model, name)
            assert any(row.startswith(f"| `{key}` |") and f"`{name_of_variable}`" in row
                       for row in rows), (model.service, name)
