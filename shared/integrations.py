"""Integration accounts: a broker user for an integration outside the
system, with a durable queue of its own, `integration.{name}`, bound to
the routing keys it asked for on the exchanges that carry them. It may
read that queue and do nothing else: it cannot publish (not even to its
queue), declare or bind a queue, read another queue, or reach RPC. What
it receives is described by the AsyncAPI document (`contracts.asyncapi`);
docs/integrations.md shows a consumer.

    python -m shared.integrations add NAME PATTERN... [--vhost VHOST]
    python -m shared.integrations remove NAME [--vhost VHOST]

A PATTERN is a message type or a topic pattern of them (`event.*`,
`invite.accepted`); each must match a type some service publishes. `add`
prints the account's password, once (a new one on every `add`), and makes
the queue's bindings those asked, idempotently; `remove` deletes the user
and its queue, with whatever waits in it. Both work through the management
API as `shared.broker` does; the vhost defaults to the one of `AMQP_URI`.
"""
import argparse
import re
import secrets
import sys
from urllib.parse import quote

from shared import broker

NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
PATTERN = re.compile(r"([a-z0-9_]+|\*|#)(\.([a-z0-9_]+|\*|#))*")


class UnknownPattern(ValueError):
    """A routing key pattern that no published message type matches."""


def account(name):
    """The integration's user name, which is also its queue's."""
    if not NAME.fullmatch(name):
        raise ValueError(f"integration name {name!r}: lower-case letters, digits and '-', "
                         "starting with a letter")
    return f"integration.{name}"


def bindings(patterns):
    """`{(exchange, pattern)}`: each pattern on each exchange that carries a
    message type it matches."""
    found = set()
    for pattern in patterns:
        if not PATTERN.fullmatch(pattern):
            raise UnknownPattern(f"not a routing key pattern: {pattern!r}")
        matched = {(f"{name}.events", pattern) for name, service in broker.services().items()
                   for event_type in service.publishes if matches(pattern, event_type)}
        if not matched:
            raise UnknownPattern(f"{pattern!r} matches no message type (docs/messages.md)")
        found |= matched
    return found


def matches(pattern, routing_key):
    """Whether a topic exchange routes `routing_key` to a `pattern` binding."""
    return _words_match(pattern.split("."), routing_key.split("."))


def _words_match(pattern, words):
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_words_match(rest, words[skip:]) for skip in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _words_match(rest, words[1:])


def add(name, patterns, vhost, management=None):
    """Make (or remake) the integration's account, queue and bindings on
    `vhost`; return its new password."""
    user, wanted = account(name), bindings(patterns)
    password = secrets.token_urlsafe(24)
    api = management or broker.Management()
    try:
        v, q = quote(vhost, safe=""), quote(user, safe="")
        mine = _only(user)
        with broker.lent(api, v, configure=mine, write=mine, read=_only(*broker.exchanges())):
            api.put(f"queues/{v}/{q}", {"durable": True, "auto_delete": False, "arguments": {}})
            held = {(b["source"], b["routing_key"]): b["properties_key"]
                    for b in api.get(f"queues/{v}/{q}/bindings", missing=[]) if b["source"]}
            for (exchange, pattern), key in held.items():
                if (exchange, pattern) not in wanted:
                    api.delete(f"bindings/{v}/e/{quote(exchange, safe='')}/q/{q}/"
                               f"{quote(key, safe='')}")
            for exchange, pattern in sorted(wanted - set(held)):
                api.post(f"bindings/{v}/e/{quote(exchange, safe='')}/q/{q}",
                         {"routing_key": pattern, "arguments": {}})
        api.put(f"users/{q}", {"password": password, "tags": ""})
        api.put(f"permissions/{v}/{q}", {"configure": broker.NOTHING, "write": broker.NOTHING,
                                        "read": mine})
        broker.set_topics(api, v, q, dict.fromkeys(broker.exchanges(),
                                                   (broker.NOTHING, broker.NOTHING)))
    finally:
        if management is None:
            api.close()
    return password


def remove(name, vhost, management=None):
    """Delete the integration's user and its queue from `vhost`."""
    user = account(name)
    api = management or broker.Management()
    try:
        v, q = quote(vhost, safe=""), quote(user, safe="")
        api.delete(f"users/{q}")
        with broker.lent(api, v, configure=_only(user)):
            api.delete(f"queues/{v}/{q}")
    finally:
        if management is None:
            api.close()


def _only(*names):
    """A permission's regular expression that matches `names` exactly."""
    return f"^({'|'.join(re.escape(name) for name in names)})$"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m shared.integrations", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="make an integration's account and queue")
    adding.add_argument("name")
    adding.add_argument("patterns", nargs="+", metavar="pattern")
    removing = commands.add_parser("remove", help="delete an integration's account and queue")
    removing.add_argument("name")
    for command in (adding, removing):
        command.add_argument("--vhost", help="default: the vhost of AMQP_URI")
    args = parser.parse_args(argv)
    vhost = args.vhost or broker.default_vhost()
    try:
        if args.command == "remove":
            remove(args.name, vhost)
            print(f"integration {args.name} removed from vhost {vhost!r}")
            return 0
        password = add(args.name, args.patterns, vhost)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    user = account(args.name)
    bound = ", ".join(f"{pattern} on {exchange}" for exchange, pattern in
                      sorted(bindings(args.patterns)))
    print(f"integration {args.name} on vhost {vhost!r}: user {user}, queue {user}\n"
          f"  bound: {bound}\n  password (shown once, keep it now): {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
