"""Who is who on the broker (`shared.broker`, `shared.amqp`), without one:
the table of permissions gives each service its own queues and exchanges
and the RPC routing keys of exactly the methods its code calls; a service
logs in as itself or refuses to start; a method's callers are the ones its
contract names; a consumer believes a message only from its source."""
import ast
import os
import re
import subprocess
import sys
import uuid
from types import SimpleNamespace

import pytest
from nameko.containers import ServiceContainer

from contracts.catalog import rpc_protocols
from scripts.docs import callers_of
from services.events.service import EventsService
from services.events.settings import EventsSettings
from shared import broker
from shared.amqp import DEVELOPMENT_BROKER_PASSWORD, user_of
from shared.handlers import SENDER_HEADER, sender_of
from shared.settings import BrokerLoginRefused, ServiceSettings, broker_uri
from tests.conftest import ROOT

SERVICES = broker.services()
TABLE = broker.table()
REPLY = str(uuid.uuid4())


def matches(pattern, name):
    """Whether RabbitMQ grants `name` by `pattern` (our patterns are anchored)."""
    return re.search(pattern, name) is not None


def own_resources(name):
    """Names of the queues and exchanges that are `name`'s alone."""
    service = SERVICES[name]
    queues = [queue for _, _, queue in service.consumes]
    return ([f"rpc-{name}", f"rpc.reply-{name}-{REPLY}", f"{name}.dead-letters",
             f"{name}.handlers", f"{name}.events"] + queues
            + [f"{queue}.retry.1" for queue in queues])


# the table


@pytest.mark.parametrize("user", sorted(TABLE))
def test_no_user_may_touch_another_services_queues_or_exchanges(user):
    granted = TABLE[user]
    for other in SERVICES.keys() - {user}:
        for resource in own_resources(other):
            consumed_exchange = resource == f"{other}.events" and other in {
                source for source, _, _ in SERVICES[user].consumes}
            assert not matches(granted.configure, resource), (user, resource)
            assert not matches(granted.write, resource), (user, resource)
            assert consumed_exchange or not matches(granted.read, resource), (user, resource)


@pytest.mark.parametrize("user", sorted(TABLE))
def test_no_user_may_declare_a_shared_exchange_or_write_to_any_queue(user):
    granted = TABLE[user]
    for exchange in ["nameko-rpc", "amq.default", "", "amq.topic", *broker.exchanges()]:
        if exchange != f"{user}.events":
            assert not matches(granted.configure, exchange), exchange
    assert not matches(granted.write, "amq.default")
    assert granted.configure != ".*" and granted.write != ".*" and granted.read != ".*"


@pytest.mark.parametrize("user", sorted(TABLE))
def test_on_nameko_rpc_a_user_publishes_what_it_calls_and_binds_its_own_alone(user):
    write, read = TABLE[user].topics["nameko-rpc"]
    every_method = {f"{service}.{method}" for service, protocol in rpc_protocols().items()
                    for method in vars(protocol) if not method.startswith("_")}

    assert {key for key in every_method if matches(write, key)} == set(SERVICES[user].calls)
    for other in SERVICES:
        answers_other = other in broker.callers_of(user) and SERVICES[user].answers
        assert matches(write, f"reply.{other}.{REPLY}") == bool(answers_other), other
        if other != user:
            for key in (f"{other}.*", f"{other}.sign_in", f"reply.{other}.{REPLY}"):
                assert not matches(read, key), key
    for key in ("#", "*.*", "*.sign_in", "roles.#", REPLY, "reply.#"):
        assert not matches(read, key), key
    assert matches(read, f"{user}.*") == bool(SERVICES[user].answers)
    assert matches(read, f"reply.{user}.{REPLY}") == bool(SERVICES[user].calls)


@pytest.mark.parametrize("user", sorted(TABLE))
def test_on_an_events_exchange_a_user_publishes_its_types_and_binds_what_it_consumes(user):
    topics, service = TABLE[user].topics, SERVICES[user]
    for source in SERVICES:
        consumed = {t for origin, t, _ in service.consumes if origin == source}
        published = set(service.publishes) if source == user else set()
        if not consumed | published:
            assert f"{source}.events" not in topics or topics[f"{source}.events"] == (
                broker.NOTHING, broker.NOTHING)
            continue
        write, read = topics[f"{source}.events"]
        types = {t for s in SERVICES.values() for t in s.publishes} | {"#", "*.*"}
        assert {t for t in types if matches(write, t)} == published, source
        assert {t for t in types if matches(read, t)} == consumed, source


def test_the_issue_s_examples_hold():
    assert set(SERVICES["events"].calls) == {"roles.has_access", "roles.get_user"}
    assert set(SERVICES["media"].calls) >= {"events.get_event", "events.get_child",
                                            "events.apply_media_urls", "roles.has_access"}
    assert set(SERVICES["roles"].calls) == {"events.get_event"}
    assert not SERVICES["gateway"].answers and not SERVICES["gateway"].consumes


# the table against the code


def rpc_attributes(tree):
    """`{attribute: target service}` of the `Rpc(...)`/`Permissions(...)`
    dependencies declared in `tree`."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            called = getattr(node.value.func, "id", None)
            if called == "Rpc" and node.value.args:
                found[targets[0].id] = node.value.args[0].value
            elif called == "Permissions":
                found[targets[0].id] = "permissions"
    return found


def methods_called_on(tree, is_proxy):
    """`{(proxy, method)}` for each call `proxy.method(...)`, where
    `is_proxy(node)` names the proxy the node is (or None)."""
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if isinstance(base, ast.Call) and getattr(base.func, "attr", None) == "within":
                base = base.func.value  # proxy.within(timeout).method(...)
            proxy = is_proxy(base)
            if proxy and node.func.attr != "within":
                calls.add((proxy, node.func.attr))
    return calls


def calls_in_code(name):
    """The `target.method` routing keys the service's code calls."""
    trees = [ast.parse(path.read_text()) for path in (ROOT / "services" / name).glob("*.py")]
    attributes = {k: v for tree in trees for k, v in rpc_attributes(tree).items()}

    def is_proxy(node, modules):
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "self":
            return attributes.get(node.attr)
        if isinstance(node, ast.Name) and node.id in SERVICES and node.id not in modules:
            return node.id  # a proxy handed on, named after its service
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
            return "any of them"  # getattr(self, service): each of its proxies
        return None

    found = set()
    for tree in trees:
        modules = {alias.asname or alias.name for node in ast.walk(tree)
                   if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names}
        for proxy, method in methods_called_on(
                tree, lambda node, modules=modules: is_proxy(node, modules)):
            targets = set(attributes.values()) - {"permissions"} if proxy == "any of them" \
                else {proxy}
            found |= {(target, method) for target in targets}
    if "permissions" in attributes.values():  # what shared.permissions asks of roles
        checks = ast.parse((ROOT / "shared" / "permissions.py").read_text())
        found |= {("roles", method) for _, method in methods_called_on(
            checks, lambda node: "roles" if getattr(node, "attr", None) == "_roles" else None)}
    found = {(target, method) for target, method in found if target != "permissions"}
    protocols = rpc_protocols()
    return {f"{target}.{method}" for target, method in found
            if target in protocols and hasattr(protocols[target], method)}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_calls_is_what_each_services_code_calls(name):
    assert set(SERVICES[name].calls) == calls_in_code(name)


def test_a_call_the_callee_would_refuse_is_refused_by_the_table(monkeypatch):
    monkeypatch.setitem(broker.CALLS, "media", {**broker.CALLS["media"],
                                                "roles": ("sign_in",)})
    found = {name: broker.Service(**{**vars(s), "calls": ()}) for name, s in SERVICES.items()}

    with pytest.raises(ValueError, match="media calls roles.sign_in, which answers"
                                         " gateway only"):
        broker._check_calls(found, rpc_protocols())


@pytest.mark.parametrize("name", sorted(rpc_protocols()))
def test_each_method_s_callers_are_the_ones_its_contract_names(name):
    protocol = rpc_protocols()[name]
    for method, callers in SERVICES[name].answers.items():
        documented = callers_of(getattr(protocol, method).__doc__)
        assert documented == callers, f"{name}.{method}: contract says {documented}"


def test_the_issue_s_callers_hold():
    roles, events = SERVICES["roles"].answers, SERVICES["events"].answers
    assert events["apply_media_urls"] == ("media",)
    assert set(roles["has_access"]) == {"events", "media", "webhooks", "gateway"}
    for method in ("sign_in", "check_session", "end_session", "sign_up", "update_me",
                   "verify_email", "request_verification", "request_password_reset",
                   "reset_password", "create_invite", "list_invites", "list_my_invites",
                   "get_invite", "update_invite", "respond_to_invite", "resend_invite",
                   "delete_invite", "set_admin", "await_event", "change_role",
                   "remove_member", "list_my_events"):
        assert roles[method] == ("gateway",), method
    for method in ("invite_mail", "verification_mail", "password_reset_mail"):
        assert roles[method] == ("notifications",), method  # they answer a link's token
    assert roles["owner_mail"] == ("notifications",)  # it answers an email


# logging in


def settings(**values):
    return EventsSettings(**{"ENVIRONMENT": "test", **values})


def test_a_service_logs_in_as_itself_with_its_password():
    login = broker_uri(settings(AMQP_URI="pyamqp://rabbit:5672/system",
                                BROKER_PASSWORD="s3cret/+"), "events")

    assert login == "pyamqp://events:s3cret%2F%2B@rabbit:5672/system"
    assert user_of(login) == "events"


def test_a_full_uri_of_the_service_s_own_user_is_used_as_it_is():
    uri = "amqps://events:elsewhere@rabbit:5671/system"
    assert broker_uri(settings(AMQP_URI=uri, ENVIRONMENT="production"), "events") == uri


@pytest.mark.parametrize("uri", ["pyamqp://guest:guest@127.0.0.1:5672//",
                                 "pyamqp://roles:pw@127.0.0.1:5672//"])
def test_no_service_logs_in_as_another_user_guest_included(uri):
    with pytest.raises(BrokerLoginRefused, match="logs in as '(guest|roles)'; the events"
                                                 " service logs in as its own broker user"):
        broker_uri(settings(AMQP_URI=uri), "events")


def test_the_development_password_is_refused_in_production_only():
    production = settings(ENVIRONMENT="production")
    with pytest.raises(BrokerLoginRefused) as refused:
        broker_uri(production, "events")
    assert str(refused.value) == (
        "events settings: EVENTS_BROKER_PASSWORD is the development broker password, refused"
        " in production (ENVIRONMENT): set the service's own")
    with pytest.raises(BrokerLoginRefused, match="AMQP_URI is the development"):
        broker_uri(settings(ENVIRONMENT="production", AMQP_URI="pyamqp://events:"
                            f"{DEVELOPMENT_BROKER_PASSWORD}@rabbit//"), "events")
    for environment in ("development", "test"):
        assert user_of(broker_uri(settings(ENVIRONMENT=environment), "events")) == "events"
    with pytest.raises(BrokerLoginRefused, match="gives no broker password"):
        broker_uri(settings(BROKER_PASSWORD=""), "events")


def test_a_transport_that_is_not_rabbitmq_needs_no_login():
    assert broker_uri(ServiceSettings(AMQP_URI="memory://", ENVIRONMENT="test"),
                      "events") == "memory://"


def test_the_container_s_amqp_uri_becomes_the_service_s_login():
    container = ServiceContainer(EventsService, {"AMQP_URI": "pyamqp://127.0.0.1:5672/sys",
                                                 "ENVIRONMENT": "test"})

    assert container.config["AMQP_URI"] == (
        f"pyamqp://events:{DEVELOPMENT_BROKER_PASSWORD}@127.0.0.1:5672/sys")


def test_nameko_run_refuses_the_development_password_in_production_in_one_line():
    env = {key: value for key, value in os.environ.items()
           if key not in ("ENVIRONMENT", "EVENTS_BROKER_PASSWORD", "AMQP_URI")}
    run = subprocess.run(
        [sys.executable, "-m", "nameko", "run", "--config", "services/events/config.yml",
         "services.events.service"], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60)

    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "events settings: EVENTS_BROKER_PASSWORD is the development broker password, refused"
        " in production (ENVIRONMENT): set the service's own")
    assert "Traceback" not in run.stderr + run.stdout


# who sent a message


def message(user_id=None, **headers):
    return SimpleNamespace(properties={"user_id": user_id} if user_id else {}, headers=headers)


def test_the_sender_is_the_user_id_the_broker_checked():
    assert sender_of(message("events"), own_user="roles") == "events"
    assert sender_of(message(), own_user="roles") is None


def test_the_original_sender_is_believed_on_a_copy_the_service_parked_itself_only():
    assert sender_of(message("roles", **{SENDER_HEADER: "events"}), own_user="roles") == "events"
    assert sender_of(message("media", **{SENDER_HEADER: "events"}), own_user="roles") == "media"
    assert sender_of(message(**{SENDER_HEADER: "events"}), own_user="roles") is None
