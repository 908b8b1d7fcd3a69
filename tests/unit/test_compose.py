"""docker-compose.yml is accepted by the Compose client and runs every
service, in production, with every secret from the environment and only
the gateway reachable from outside (the mail catcher's inbox from this
machine alone), with no Docker engine needed to check that."""
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

# every secret the file takes, each from a variable of its own (no default)
SECRETS = ("POSTGRES_PASSWORD", "RABBITMQ_ADMIN_PASSWORD", "EVENTS_BROKER_PASSWORD",
           "ROLES_BROKER_PASSWORD", "MEDIA_BROKER_PASSWORD", "NOTIFICATIONS_BROKER_PASSWORD",
           "WEBHOOKS_BROKER_PASSWORD",
           "GATEWAY_BROKER_PASSWORD", "JWT_SECRET", "ACTOR_SIGNING_KEY", "ACTOR_PUBLIC_KEY",
           "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD", "MEDIA_S3_SECRET_ACCESS_KEY")
OURS = {path.parent.name for path in ROOT.glob("services/*/service.py")}
# the trace exporter's settings, passed on from the environment (shared.tracing)
OTLP = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT")
SAMPLING = "TRACE_SAMPLE_RATIO"


def compose_command():
    """`docker compose` where the plugin is installed, else `docker-compose`."""
    plugin = shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0
    return ["docker", "compose"] if plugin else ["docker-compose"]


def compose_config(**variables):
    """`docker compose config` with `variables` (and no other secret or
    exporter setting) in the environment: the completed process."""
    env = {name: value for name, value in os.environ.items()
           if name not in (*SECRETS, *OTLP, SAMPLING)}
    return subprocess.run([*compose_command(), "-f", "docker-compose.yml", "config"],
                          cwd=ROOT, env={**env, **variables}, capture_output=True, text=True,
                          timeout=60)


def sentinel(name):
    return f"{name.lower()}-from-the-environment"


@pytest.fixture(scope="module")
def services():
    """The services as Compose reads the file, every secret set."""
    result = compose_config(**{name: sentinel(name) for name in SECRETS})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_compose_accepts_the_file_and_runs_every_service(services):
    assert OURS | {"rabbitmq", "postgres", "redis", "broker-setup", "maildev", "minio",
                   "minio-setup", "prometheus"} == set(services)


def test_only_the_gateway_publishes_a_port_and_the_mail_catcher_to_this_machine(services):
    published = {name for name, service in services.items() if service.get("ports")}

    assert published == {"gateway", "maildev", "prometheus"}
    assert "8000" in str(services["gateway"]["ports"])  # its HTTP port
    [inbox] = services["maildev"]["ports"]  # its inbox shows the mailed links
    assert short_port(inbox) == "127.0.0.1:1080:1080"
    [console] = services["prometheus"]["ports"]  # and Prometheus, to this machine alone
    assert short_port(console) == "127.0.0.1:9090:9090"


def short_port(port):
    """A published port as `host_ip:published:target`, whether the Compose
    client wrote it so (v1) or in the long syntax (v2)."""
    if isinstance(port, dict):
        return f"{port.get('host_ip', '')}:{port['published']}:{port['target']}"
    return port.removesuffix("/tcp")


def test_the_notifications_service_mails_through_the_mail_catcher(services):
    environment = services["notifications"]["environment"]

    assert (environment["SMTP_HOST"], str(environment["SMTP_PORT"])) == ("maildev", "1025")


def test_the_media_service_keeps_its_blobs_on_minio_in_a_bucket_of_its_own(services):
    environment = services["media"]["environment"]

    assert environment["MEDIA_BACKEND"] == "s3"
    assert environment["MEDIA_S3_ENDPOINT"] == "http://minio:9000"
    assert "minio-setup" in services["media"]["depends_on"]
    assert f"store/{environment['MEDIA_S3_BUCKET']}" in str(services["minio-setup"]["command"])


def test_every_service_runs_in_production(services):
    assert all(services[name]["environment"]["ENVIRONMENT"] == "production"
               for name in OURS | {"broker-setup"})


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_any_one_secret(missing):
    result = compose_config(**{name: sentinel(name) for name in SECRETS if name != missing})

    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


def test_no_password_secret_or_key_has_a_default_or_a_value_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    references = re.findall(r"\$\{(\w+)(:?[-?])?", text)
    secret = re.compile(r"PASS|SECRET|_KEY$")

    assert {name for name, _ in references if secret.search(name)} == set(SECRETS)
    assert all(how == ":?" for name, how in references if secret.search(name))
    # and no secret written out: each variable that carries one is a
    # reference, and so is each password in a URL
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if secret.search(key) and value.strip():
            assert value.strip().startswith("${"), line
    in_urls = re.findall(r"//[\w.-]+:(.+?)@[\w.-]+:\d+", text)
    assert len(in_urls) == 7  # the five databases', the broker administrator's and Redis's
    assert all(password.startswith("${") for password in in_urls)


def test_the_secrets_reach_the_services_that_need_them_and_no_others(services):
    def holders(name):
        return {service for service, config in services.items()
                if sentinel(name) in str(config.get("environment", {}))}

    assert holders("JWT_SECRET") == holders("ACTOR_SIGNING_KEY") == {"gateway"}
    assert holders("POSTGRES_PASSWORD") == {"postgres", "events", "roles", "media",
                                            "notifications", "webhooks"}
    assert holders("RABBITMQ_ADMIN_PASSWORD") == {"rabbitmq", "broker-setup"}
    assert holders("REDIS_PASSWORD") == {"redis", "gateway", "events", "roles"}
    assert holders("MINIO_ROOT_PASSWORD") == {"minio", "minio-setup"}
    assert holders("MEDIA_S3_SECRET_ACCESS_KEY") == {"minio-setup", "media"}
    for service in OURS:
        assert holders(f"{service.upper()}_BROKER_PASSWORD") == {service, "broker-setup"}


def test_the_trace_exporter_settings_reach_every_service_from_the_environment(services):
    exporter = {name: sentinel(name) for name in OTLP}
    result = compose_config(**{name: sentinel(name) for name in SECRETS}, **exporter,
                            TRACE_SAMPLE_RATIO="0.25")
    assert result.returncode == 0, result.stderr
    configured = yaml.safe_load(result.stdout)["services"]

    for service in OURS:
        assert {name: services[service]["environment"][name] for name in OTLP} == dict.fromkeys(
            OTLP, "")  # none by default: no collector, no trace sent
        assert services[service]["environment"][SAMPLING] == "1.0"  # every trace
        assert {name: configured[service]["environment"][name] for name in OTLP} == exporter
        assert configured[service]["environment"][SAMPLING] == "0.25"
