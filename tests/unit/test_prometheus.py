"""The Prometheus configuration and alert rules of deploy/prometheus: valid
(`promtool check`), each alert passing its unit tests (`promtool test
rules`), and scraping each service where its settings serve its metrics."""
import json
import subprocess

import pytest
import yaml

from shared.metrics import ServiceMetrics
from shared.settings.models import METRICS_PORTS
from tests.conftest import ROOT

PROMETHEUS = ROOT / "deploy/prometheus"
SERVED = ("gateway", "events", "roles", "media", "notifications", "webhooks")


def promtool(*args):
    done = subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def scrape_targets(config):
    jobs = yaml.safe_load((PROMETHEUS / config).read_text())["scrape_configs"]
    return {job["job_name"]: job["static_configs"][0]["targets"] for job in jobs}


def test_every_alert_fires_as_its_unit_test_says():
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def test_every_alert_has_a_unit_test():
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in rules}


@pytest.mark.parametrize("config", ["prometheus.yml", "compose.yml"])
def test_the_configuration_is_valid(config):
    promtool("check", "config", config)


@pytest.mark.parametrize("config, host", [("prometheus.yml", None), ("compose.yml", "service")])
def test_each_service_is_scraped_at_its_metrics_port(config, host):
    targets = scrape_targets(config)
    for service in SERVED:
        assert targets[service] == [f"{host and service or '127.0.0.1'}:{METRICS_PORTS[service]}"]
    assert targets["rabbitmq"][0].endswith(":15692")


def test_every_query_of_the_dashboard_is_promql(tmp_path):
    dashboard = json.loads((ROOT / "deploy/grafana/dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{n}", "expr": query} for n, query in enumerate(queries)]}]}
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    promtool("check", "rules", str(tmp_path / "dashboard.yml"))


def test_the_operations_page_lists_every_metric():
    page = (ROOT / "docs/operations.md").read_text()
    for family in ServiceMetrics().registry.collect():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{name}`" in page, name
