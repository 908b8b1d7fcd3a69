"""Who is who on the broker, and what each may do.

Each service logs in to RabbitMQ as its own user, named after it
(`shared.amqp`), with the least permissions it needs on the system's vhost:

- its own queues only – declare, bind, read: `rpc-{service}` (its RPC
  requests), `rpc.reply-{service}-{uuid}` (the answers to its calls), its
  handlers' `evt-{source}-{type}--{service}.{method}` with their
  `.retry.{n}` queues, and `{service}.dead-letters`;
- its own exchanges only – declare, publish: `{service}.events` (its
  messages, by the relay) and `{service}.handlers` (retries, dead letters
  and replays to its own queues; never the default exchange, which reaches
  every queue). `nameko-rpc` and the services' event exchanges are
  declared by `setup`: declaring one takes the permission to delete it;
- on `nameko-rpc` (topic permissions) it publishes the routing keys
  `{service}.{method}` of exactly the methods it calls (`CALLS`) and the
  answers to its callers, `reply.{caller}.{uuid}`; it binds its own
  requests, `{service}.*`, and its own answers, `reply.{service}.{uuid}`,
  alone: no service can read another's requests or answers;
- on an events exchange it publishes its own message types only, and binds
  only the types its handlers consume.

What each service consumes is read off its `@consume` handlers, what it
publishes off the contracts' message types, what it answers off its `@rpc`
methods; what it calls is `CALLS`, checked against the contracts' RPC
Protocols and the callees' `@rpc(callers=...)`. Who may call a method is
the callee's to say, and to enforce (`shared.rpc`). (Services and contracts
are found by name, as `shared.settings` finds the services' settings:
shared imports neither.)

    python -m shared.broker show                # the table, per user
    python -m shared.broker setup [--vhost VHOST] [--keep-guest]

`setup` makes the vhost, `nameko-rpc` and the event exchanges, and each user
with its password (the service's `BROKER_PASSWORD`, or the password of its
`AMQP_URI`, as the service reads them) and its permissions, idempotently;
and, unless `--keep-guest`, takes every permission of `guest` on the vhost
away. The vhost defaults to the one of `AMQP_URI`. It works through the
management API at `BROKER_MANAGEMENT_URL` (default
`http://guest:guest@127.0.0.1:15672`), as a RabbitMQ administrator.
"""
import argparse
import importlib
import inspect
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import requests
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from shared.amqp import addresses, password_of
from shared.config import load_config
from shared.handlers import MessageConsumer
from shared.rpc import RpcEntrypoint
from shared.settings import InvalidSettings, ServiceSettings, broker_uri, validated

ROOT = Path(__file__).resolve().parent.parent
RPC_EXCHANGE = "nameko-rpc"
DEFAULT_MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"
UUID = "[0-9a-f-]{36}"
NOTHING = "^$"

# The RPC methods each service calls, by the service that answers them:
# the routing keys it may publish on `nameko-rpc`, and nothing else.
CALLS = {
    "events": {"roles": ("has_access", "get_user")},
    "roles": {"events": ("get_event",)},
    "media": {"roles": ("has_access", "get_user"),
              "events": ("get_event", "get_child", "apply_media_urls")},
    "notifications": {"roles": ("invite_mail", "verification_mail", "password_reset_mail",
                                "owner_mail")},
    "webhooks": {"roles": ("has_access", "get_user")},
    "gateway": {
        "events": ("create_event", "get_event", "list_events", "list_public_events",
                   "update_event", "delete_event", "create_child", "list_children", "get_child",
                   "update_child", "delete_child", "copy_event", "health"),
        "roles": ("sign_up", "sign_in", "check_session", "end_session", "get_user",
                  "update_me", "verify_email", "request_verification", "request_password_reset",
                  "reset_password", "has_access", "list_event_roles", "change_role",
                  "remove_member", "list_my_events", "await_event",
                  "create_invite", "list_invites", "list_my_invites", "get_invite",
                  "update_invite", "respond_to_invite", "resend_invite", "delete_invite",
                  "health"),
        "media": ("upload_event_image", "upload_sponsor_logo", "delete_event_image",
                  "delete_sponsor_logo", "read_media", "health"),
        "notifications": ("health",),
        "webhooks": ("create_webhook", "list_webhooks", "get_webhook", "update_webhook",
                     "delete_webhook", "test_webhook", "list_deliveries", "retry_delivery",
                     "health"),
    },
}


@dataclass(frozen=True)
class Service:
    """What the broker needs to know of a service."""

    name: str
    answers: dict  # its @rpc methods: name -> the services it answers (None: any)
    publishes: tuple  # the event types of its messages
    consumes: tuple  # (source, event type, queue) of each handler
    calls: tuple  # the routing keys of the methods it calls


@dataclass(frozen=True)
class Grant:
    """A user's permissions on the vhost (regular expressions), and its
    topic permissions: `{exchange: (write, read)}`."""

    configure: str
    write: str
    read: str
    topics: dict


@cache
def services():
    """Every service of the system, as the broker sees it, by name."""
    catalog = importlib.import_module("contracts.catalog")
    protocols = catalog.rpc_protocols()
    publishes = {}
    for message in catalog.message_types():
        publishes.setdefault(message.source, []).append(message.event_type)
    found = {}
    for path in sorted(ROOT.glob("services/*/service.py")):
        cls = _service_class(path.parent.name)
        entrypoints = [(name, entrypoint) for name, method in inspect.getmembers(cls)
                       for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ())]
        found[cls.name] = Service(
            name=cls.name,
            answers={name: entrypoint.callers for name, entrypoint in entrypoints
                     if isinstance(entrypoint, RpcEntrypoint)},
            publishes=tuple(publishes.get(cls.name, ())),
            consumes=tuple((e.message_type.source, e.message_type.event_type,
                            f"evt-{e.message_type.source}-{e.message_type.event_type}"
                            f"--{cls.name}.{name}")
                           for name, e in entrypoints if isinstance(e, MessageConsumer)),
            calls=tuple(f"{target}.{method}" for target, methods in CALLS.get(cls.name, {}).items()
                        for method in methods))
    _check_calls(found, protocols)
    return found


def _service_class(name):
    module = importlib.import_module(f"services.{name}.service")
    [cls] = [value for value in vars(module).values()
             if inspect.isclass(value) and value.__module__ == module.__name__
             and getattr(value, "name", None) == name]
    return cls


def _check_calls(found, protocols):
    """Every call of `CALLS` is to a method of the callee's Protocol, which
    the callee answers and lets the caller call."""
    for caller, targets in CALLS.items():
        for target, methods in targets.items():
            for method in methods:
                where = f"shared.broker.CALLS: {caller} calls {target}.{method}"
                if method.startswith("_") or not hasattr(protocols[target], method):
                    raise ValueError(f"{where}, which contracts.{target}.rpc does not declare")
                if method not in found[target].answers:
                    raise ValueError(f"{where}, which the {target} service does not answer")
                callers = found[target].answers[method]
                if callers is not None and caller not in callers:
                    raise ValueError(f"{where}, which answers {', '.join(callers)} only")


def callers_of(name):
    """The services that call `name`'s methods."""
    return sorted(caller for caller, targets in CALLS.items() if name in targets)


def grant(service):
    """The permissions of `service`'s user (a `Service`)."""
    name, rpc = service.name, bool(service.answers or service.calls)
    queues = []
    if service.answers:
        queues.append(_literal(f"rpc-{name}"))
    if service.calls:
        queues.append(_literal(f"rpc.reply-{name}-") + UUID)
    if service.consumes:
        queues += [_literal(queue) + r"(\.retry\.[0-9]+)?" for _, _, queue in service.consumes]
        queues.append(_literal(f"{name}.dead-letters"))
    exchanges = ([_literal(f"{name}.events")] if service.publishes else []) + (
        [_literal(f"{name}.handlers")] if service.consumes else [])
    sources = sorted({source for source, _, _ in service.consumes})
    return Grant(
        configure=_any(queues + exchanges),
        write=_any(queues + exchanges + ([_literal(RPC_EXCHANGE)] if rpc else [])),
        read=_any(queues + ([_literal(RPC_EXCHANGE)] if rpc else [])
                  + [_literal(f"{source}.events") for source in sources]
                  + ([_literal(f"{name}.handlers")] if service.consumes else [])),
        topics=_topics(service, sources))


def _topics(service, sources):
    name, topics = service.name, {}
    callers = callers_of(name) if service.answers else []
    if service.answers or service.calls:
        topics[RPC_EXCHANGE] = (
            _any([_literal(key) for key in service.calls]
                 + [_literal(f"reply.{caller}.") + UUID for caller in callers]),
            _any(([_literal(f"{name}.*")] if service.answers else [])
                 + ([_literal(f"reply.{name}.") + UUID] if service.calls else [])))
    for source in sorted(set(sources) | ({name} if service.publishes else set())):
        consumed = [event_type for origin, event_type, _ in service.consumes if origin == source]
        published = service.publishes if source == name else ()
        topics[f"{source}.events"] = (_any([_literal(t) for t in published]),
                                      _any([_literal(t) for t in consumed]))
    return topics


def table():
    """`{user: Grant}` for every service."""
    return {name: grant(service) for name, service in services().items()}


def exchanges():
    """What `setup` declares: `{name: type}`."""
    return {RPC_EXCHANGE: "topic", **{f"{name}.events": "topic"
                                      for name, service in services().items()
                                      if service.publishes}}


def _literal(text):
    return re.sub(r"([.*+?^$()\[\]{}|\\])", r"\\\1", text)


def _any(patterns):
    return f"^({'|'.join(patterns)})$" if patterns else NOTHING


# applying it


class Management:
    """RabbitMQ's management API, as an administrator."""

    def __init__(self, url=None):
        parts = urlsplit(url or os.environ.get("BROKER_MANAGEMENT_URL", DEFAULT_MANAGEMENT_URL))
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}/api/"
        self.session = requests.Session()
        self.session.auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))

    def get(self, path, missing=None):
        answer = self.session.get(self.base + path, timeout=10)
        if answer.status_code == 404:
            return missing
        answer.raise_for_status()
        return answer.json()

    def put(self, path, body):
        self.session.put(self.base + path, json=body, timeout=10).raise_for_status()

    def post(self, path, body):
        self.session.post(self.base + path, json=body, timeout=10).raise_for_status()

    def delete(self, path):
        answer = self.session.delete(self.base + path, timeout=10)
        if answer.status_code != 404:
            answer.raise_for_status()

    def close(self):
        self.session.close()


def setup(vhost, passwords, management=None, keep_guest=False):
    """Make `vhost`, its shared exchanges, and each user of `table()` with
    its password (`passwords`: user -> password) and permissions on it;
    take `guest`'s permissions on it away unless `keep_guest`."""
    api = management or Management()
    try:
        v = quote(vhost, safe="")
        api.put(f"vhosts/{v}", {})
        _declare_exchanges(api, v)
        for user, granted in table().items():
            api.put(f"users/{quote(user, safe='')}", {"password": passwords[user], "tags": ""})
            api.put(f"permissions/{v}/{quote(user, safe='')}", {
                "configure": granted.configure, "write": granted.write, "read": granted.read})
            set_topics(api, v, quote(user, safe=""), granted.topics)
        if not keep_guest:
            api.delete(f"permissions/{v}/guest")
            api.delete(f"topic-permissions/{v}/guest")
    finally:
        if management is None:
            api.close()


def _declare_exchanges(api, v):
    """Declare the shared exchanges that are missing, as the administrator,
    who needs a permission on the vhost for that (`lent`)."""
    missing = {name: kind for name, kind in exchanges().items()
               if api.get(f"exchanges/{v}/{quote(name, safe='')}") is None}
    if not missing:
        return
    with lent(api, v, configure=_any([_literal(name) for name in missing])):
        for name, kind in missing.items():
            api.put(f"exchanges/{v}/{quote(name, safe='')}",
                    {"type": kind, "durable": True, "auto_delete": False, "internal": False,
                     "arguments": {}})


@contextmanager
def lent(api, v, configure=NOTHING, write=NOTHING, read=NOTHING):
    """The administrator may do what it asks on the vhost for the moment, if
    it holds no permission there (guest, once set up without)."""
    admin = quote(api.session.auth[0], safe="")
    lending = api.get(f"permissions/{v}/{admin}") is None
    if lending:
        api.put(f"permissions/{v}/{admin}", {"configure": configure, "write": write,
                                              "read": read})
    try:
        yield
    finally:
        if lending:
            api.delete(f"permissions/{v}/{admin}")


def set_topics(api, v, user, wanted):
    """The user's topic permissions on the vhost become `wanted`: a user
    with none on an exchange may publish and bind any routing key there."""
    path = f"topic-permissions/{v}/{user}"
    held = {p["exchange"]: (p["write"], p["read"]) for p in api.get(path, missing=[])}
    if set(held) - set(wanted):
        api.delete(path)
        held = {}
    for exchange, (write, read) in wanted.items():
        if held.get(exchange) != (write, read):
            api.put(path, {"exchange": exchange, "write": write, "read": read})


def login_of(service, amqp_uri=None):
    """The AMQP URI `service` logs in with, as the service reads its
    settings (its `config.yml`, this environment), on `amqp_uri`'s broker
    and vhost if given. InvalidSettings where the service would refuse."""
    config = load_config(ROOT / "services" / service / "config.yml")
    if amqp_uri:
        config["AMQP_URI"] = amqp_uri
    return broker_uri(validated(ServiceSettings, config, service), service)


def passwords():
    """Each user's password, as its service reads it."""
    return {name: password_of(login_of(name)) for name in services()}


def default_vhost():
    uri = urlsplit(addresses(os.environ.get("AMQP_URI") or load_config(
        ROOT / "services" / "events" / "config.yml")["AMQP_URI"])[0])
    return unquote(uri.path[1:]) or "/"


def show():
    for user, granted in table().items():
        print(f"{user}\n  configure  {granted.configure}\n  write      {granted.write}\n"
              f"  read       {granted.read}")
        for exchange, (write, read) in granted.topics.items():
            print(f"  topic {exchange}\n    write    {write}\n    read     {read}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m shared.broker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="the permissions of each service's user")
    setting_up = commands.add_parser("setup", help="make the users and their permissions")
    setting_up.add_argument("--vhost", help="default: the vhost of AMQP_URI")
    setting_up.add_argument("--keep-guest", action="store_true",
                            help="leave guest's permissions on the vhost as they are")
    args = parser.parse_args(argv)
    if args.command == "show":
        show()
        return 0
    vhost = args.vhost or default_vhost()
    try:
        logins = passwords()  # BrokerLoginRefused: a one-line exit
    except InvalidSettings as exc:
        print(exc, file=sys.stderr)
        return 1
    setup(vhost, logins, keep_guest=args.keep_guest)
    print(f"broker users {', '.join(table())} set up on vhost {vhost!r}"
          + ("" if args.keep_guest else "; guest has no permission there"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
