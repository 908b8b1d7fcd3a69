"""Every service's Prometheus metrics (`shared.metrics`), scraped from the
running system as Prometheus scrapes them: a copy over HTTP shows in the
counts of each service it crosses, the outbox drains back to nothing, a
poison message raises the dead-letter metrics and fires the alert on those
same series (`promtool test rules`), and no label names a user."""
import subprocess

import requests
import yaml

from scripts import observe
from tests.conftest import ROOT
from tests.reliability import flows
from tests.support.http import ok
from tests.support.metrics import await_sample, scrape, value
from tests.support.system import SERVICES, free_port

EVENT = {"name": "Metered", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00"}
CALLS = "entrypoint_calls_total"
COPY_ROUTE = {"kind": "http", "entrypoint": "POST /v1/events/{event}/copy"}
ROLES_COPIED = "evt-events-event.copied--roles.on_event_copied"
MEDIA_COPIED = "evt-events-event.copied--media.on_event_copied"
RULES = ROOT / "deploy/prometheus/alerts.yml"


def handled(queue):
    return {"kind": "handler", "entrypoint": queue, "outcome": "success"}


def test_a_copy_shows_in_every_service_it_crosses(system, new_user):
    owner = new_user("metered")
    event = ok(owner.api.post("/v1/events", EVENT), 201)
    url = system.metrics_url
    before = {service: scrape(url(service)) for service in SERVICES}

    ok(owner.api.post(f"/v1/events/{event['id']}/copy"), 201)

    gateway = scrape(url("gateway"))
    assert value(gateway, CALLS, **COPY_ROUTE, outcome="success") == value(
        before["gateway"], CALLS, **COPY_ROUTE, outcome="success") + 1
    events = scrape(url("events"))
    copies = {"kind": "rpc", "entrypoint": "copy_event", "outcome": "success"}
    assert value(events, CALLS, **copies) == value(before["events"], CALLS, **copies) + 1
    assert value(gateway, "rpc_calls_out_total", target="events", method="copy_event",
                 outcome="success") >= 1
    for service, queue in (("roles", ROLES_COPIED), ("media", MEDIA_COPIED)):
        was = value(before[service], CALLS, **handled(queue))
        await_sample(url(service), CALLS, lambda count, was=was: count == was + 1,
                     **handled(queue))
    for service in ("events", "roles", "media"):
        await_sample(url(service), "outbox_pending", lambda pending: pending == 0)
    assert value(events, "relay_confirmed_total") >= 1
    assert value(events, "workers_max") > 0
    assert value(events, "db_connections_max") > 0


def test_no_label_names_a_user(system, new_user):
    person = new_user("private")
    ok(person.api.get("/v1/users/me"))
    for service in SERVICES:
        for name, labels in scrape(system.metrics_url(service)):
            leaked = {label: text for label, text in labels if label != "le" and (
                person.email in text or person.token in text or text == str(person.id))}
            assert not leaked, (service, name, leaked)


def test_a_poison_message_is_counted_and_fires_the_alert(system, tmp_path):
    url = system.metrics_url("roles")
    dead = "dead_letters_total"
    was = value(scrape(url), dead, queue=ROLES_COPIED)
    flows.publish(flows.amqp_uri(system), "events", "event.copied",
                  flows.message_payload(source_event_id=1))  # malformed: fields missing

    now = await_sample(url, dead, lambda count: count == was + 1, queue=ROLES_COPIED)
    await_sample(url, "dead_letter_queue_messages", lambda depth: depth >= 1,
                 queue="roles.dead-letters")

    # the same series, as Prometheus would have scraped them a minute apart
    series = f'{dead}{{job="roles",instance="roles",queue="{ROLES_COPIED}"}}'
    test = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": series, "values": f"{was:g} {now:g} {now:g}"}],
        "alert_rule_test": [{"eval_time": "2m", "alertname": "DeadLetters", "exp_alerts": [{
            "exp_labels": {"severity": "page", "job": "roles", "instance": "roles",
                           "queue": ROLES_COPIED},
            "exp_annotations": {
                "summary": f"roles has dead letters ({ROLES_COPIED}): make dead-letters"},
        }]}],
    }]}
    (tmp_path / "poison_test.yml").write_text(yaml.safe_dump(test))
    done = subprocess.run(["promtool", "test", "rules", str(tmp_path / "poison_test.yml")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_with_the_projects_configuration_finds_every_target_up(system, tmp_path):
    """`make observe`'s Prometheus (scripts/observe.py), its service targets
    moved to this system's ports: every target up, every alert loaded."""
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    config["rule_files"] = [str(RULES)]
    for job in config["scrape_configs"]:
        if job["job_name"] in SERVICES:
            port = system.metrics_ports[job["job_name"]]
            job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    config["global"]["scrape_interval"] = "1s"  # the first scrape still comes late
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    prometheus = observe.start(tmp_path / "prometheus.yml", port, tmp_path / "data")
    try:
        base_url = f"http://127.0.0.1:{port}"
        health = observe.await_targets_up(base_url, timeout=90)
        assert health == {job["job_name"]: "up" for job in config["scrape_configs"]}
        groups = requests.get(f"{base_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert {rule["name"] for group in groups for rule in group["rules"]} == {
            "ServiceDown", "OutboxBacklog", "DeadLetters", "EntrypointErrors", "HttpSlow",
            "WebhookEndpointFailing", "RpcTimeouts"}
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
