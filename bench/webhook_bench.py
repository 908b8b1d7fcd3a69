# ruff: noqa: E402  (eventlet's monkey patch comes before every other import)
"""Webhook delivery benchmark: from the commit of a change to the receiver
getting its signed POST, and how many deliveries a second one webhooks
process makes when some endpoints hang.

    PYTHONPATH=. .venv/bin/python -m bench.webhook_bench [--rate 50] [--seconds 20]
        [--endpoints 100] [--hanging 10] [--messages 50] [--no-docs]

It starts a system of its own (`tests.support.system.System`: the six
services as `nameko run` processes, on databases `{service}_webhooks_bench`
after TEST_DATABASE_URL, which this module sets to `…/{service}_bench` when
it is not set, and a RabbitMQ vhost of its own), with the webhooks
service's production timeout (5 s) and the default `WEBHOOK_SENDERS`
(20), but retries after 0.2 s, so that a hanging endpoint holds its sender
all the time (the worst case). The receiver is `tests.support.receiver`
in this process, on loopback; every POST it gets is checked with the
`standardwebhooks` library.

The change is a `role.changed` message written to the roles service's
outbox in a transaction of its own (as `PATCH …/roles/{user}` writes it;
no other service consumes it, so nothing but the webhook path works):
the time after its commit is the start; the roles relay publishes it, the
webhooks service records a delivery per webhook and its loop posts it.

- latency: one webhook; `--rate` changes a second for `--seconds`;
  p50/p99 from each commit to the receiver's arrival of its POST;
- throughput: `--endpoints` webhooks on one event, `--hanging` of them
  never answering; `--messages` changes at once; deliveries a second to
  the healthy ones, from the first commit to the last healthy arrival,
  beside the same with none hanging.

Progress goes to stdout; the table goes to stdout and (unless `--no-docs`)
`docs/benchmarks.md`; the last line is `RESULT webhooks p50_ms=… p99_ms=… per_s=…`.
"""
import eventlet

eventlet.monkey_patch()

import os

os.environ.setdefault("TEST_DATABASE_URL",
                      "postgresql+psycopg2://root@127.0.0.1:5432/{service}_bench")

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from bench.common import machine, markdown_table, percentile, plain_table, write_section
from contracts.roles.messages import RoleChanged
from shared import outbox
from tests.support.http import ok, sign_up
from tests.support.receiver import HANG, Receiver
from tests.support.system import System

DOCS = Path("docs/benchmarks.md")
TITLE = "Webhook deliveries"
EVENT = {"name": "Bench hooks", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00"}
ENV = {"WEBHOOK_TIMEOUT": "5", "WEBHOOK_RETRY_DELAYS": "[0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]",
       "WEBHOOK_SENDERS": "20", "LOG_LEVEL": "WARNING"}


def change(system, event_id, seq):
    """Commit a `role.changed` of `event_id` to the roles outbox; its message id
    and the time after the commit."""
    message = RoleChanged(event_id=event_id, user_id=seq, role="organizer",
                          previous_role="coorganizer", actor_id=1)
    with Session(system.engine("roles")) as session, session.begin():
        outbox.add(session, message)
    return str(message.message_id), time.time()


def webhooks(user, event, receiver, paths):
    secrets = {}
    for path in paths:
        made = ok(user.api.post(f"/v1/events/{event['id']}/webhooks", {
            "url": f"{receiver.url}{path}", "events": ["role.changed"]}), 201)
        secrets[path] = made["secret"]
    return secrets


def arrived(receiver, paths, count, timeout):
    deadline = time.monotonic() + timeout
    while sum(len(receiver.at(path)) for path in paths) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} POSTs did not arrive within {timeout} s")
        eventlet.sleep(0.01)


def latency(system, user, receiver, rate, seconds):
    event = ok(user.api.post("/v1/events", EVENT), 201)
    secret = webhooks(user, event, receiver, ["/latency"])["/latency"]
    committed = {}
    start = time.monotonic()
    for seq in range(rate * seconds):
        eventlet.sleep(max(0, start + seq / rate - time.monotonic()))
        message_id, at = change(system, event["id"], seq)
        committed[message_id] = at
    arrived(receiver, ["/latency"], len(committed), timeout=60)
    received = receiver.at("/latency")
    for item in received:
        item.verify(secret)
    return [(item.at - committed[item.headers["webhook-id"]]) * 1000 for item in received]


def throughput(system, user, receiver, endpoints, hanging, messages, label):
    event = ok(user.api.post("/v1/events", EVENT), 201)
    paths = [f"/{label}-{n}" for n in range(endpoints)]
    for path in paths[:hanging]:
        receiver.script(path, [HANG])
    healthy = paths[hanging:]
    webhooks(user, event, receiver, paths)
    first = None
    for seq in range(messages):
        _, at = change(system, event["id"], seq)
        first = first or at
    arrived(receiver, healthy, len(healthy) * messages, timeout=600)
    last = max(item.at for path in healthy for item in receiver.at(path))
    return len(healthy) * messages / (last - first), last - first


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--hanging", type=int, default=10)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    host = machine()
    with tempfile.TemporaryDirectory() as workdir, Receiver() as receiver, System(
            "webhooks_bench", workdir, env=ENV, proxies=False) as system:
        user = sign_up(system.api, "bencher")
        print(f"latency: {args.rate} changes a second for {args.seconds} s …", flush=True)
        millis = latency(system, user, receiver, args.rate, args.seconds)
        print(f"throughput: {args.endpoints} endpoints, none hanging …", flush=True)
        clear = throughput(system, user, receiver, args.endpoints, 0, args.messages, "clear")
        print(f"throughput: {args.endpoints} endpoints, {args.hanging} hanging …", flush=True)
        dead = throughput(system, user, receiver, args.endpoints, args.hanging, args.messages,
                          "dead")
    p50, p99 = percentile(millis, 0.5), percentile(millis, 0.99)
    header = ["measure", "value"]
    rows = [
        [f"commit → signed POST received, p50 ({len(millis)} at {args.rate}/s)", f"{p50:.0f} ms"],
        [f"commit → signed POST received, p99 ({len(millis)} at {args.rate}/s)", f"{p99:.0f} ms"],
        [f"deliveries/s, {args.endpoints} endpoints, none hanging"
         f" ({(args.endpoints) * args.messages} in {clear[1]:.1f} s)", f"{clear[0]:.0f}"],
        [f"deliveries/s to the healthy, {args.endpoints} endpoints of which {args.hanging} hang"
         f" ({(args.endpoints - args.hanging) * args.messages} in {dead[1]:.1f} s)",
         f"{dead[0]:.0f}"],
    ]
    if not args.no_docs:
        write_section(DOCS, TITLE, f"""## {TITLE}

`make bench-webhooks` ({date.today().isoformat()}; {host}). One webhooks
process (`WEBHOOK_SENDERS` 20, `WEBHOOK_TIMEOUT` 5 s, retries after 0.2 s
so that a hanging endpoint holds a sender all the time), a receiver on
loopback in the bench process; the change is a `role.changed` committed to
the roles outbox, the start of each latency the time after its commit
(`bench/webhook_bench.py` says how).

{markdown_table(header, rows)}

Only a webhook's oldest pending delivery is ever due, so a hanging
endpoint holds one sender for its timeout, and the healthy endpoints share
the rest of the pool. The same rule makes one endpoint's deliveries
strictly sequential: at 50 a second each must be claimed, posted (a new
connection) and recorded within 20 ms; where that takes longer, the
latency above is mostly queueing behind the earlier deliveries.
""")
        print(f"written: {DOCS}")
    print(plain_table(header, rows))
    print(f"RESULT webhooks p50_ms={p50:.1f} p99_ms={p99:.1f} per_s={dead[0]:.1f}"
          f" clear_per_s={clear[0]:.1f}")


if __name__ == "__main__":
    main()
