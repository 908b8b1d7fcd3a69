"""docker-compose.yml is accepted by the Compose client and runs every
service (no Docker engine is needed to check that)."""
import shutil
import subprocess

import yaml

from tests.conftest import ROOT


def compose_command():
    """`docker compose` where the plugin is installed, else `docker-compose`."""
    plugin = shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0
    return ["docker", "compose"] if plugin else ["docker-compose"]


def test_compose_accepts_the_file_and_runs_every_service():
    result = subprocess.run([*compose_command(), "-f", "docker-compose.yml", "config"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    ours = {path.parent.name for path in ROOT.glob("services/*/service.py")}
    assert ours | {"rabbitmq", "postgres"} == set(services)
    assert "8000" in str(services["gateway"]["ports"])  # the gateway's HTTP port, published
