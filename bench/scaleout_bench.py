# ruff: noqa: E402  (eventlet's monkey patch comes before every other import)
"""Scale-out: copy throughput with one and with two processes each of the
events and media services (competing consumers on the same queues).

    PYTHONPATH=. .venv/bin/python -m bench.scaleout_bench [--copies 200] [--clients 8]
        [--instances 1,2] [--poll-ms 100] [--no-docs]

For each number of instances N it starts a system of its own
(`tests.support.system.System` with `proxies=False`, as the end-to-end
bench starts it: real `nameko run` processes reaching RabbitMQ and
PostgreSQL directly, databases `{service}_scaleout…` after
TEST_DATABASE_URL – `…/{service}_bench` when it is not set – emptied at the
start, and a RabbitMQ vhost of its own, deleted at the end), with N
processes of the events and of the media service and one each of roles and
gateway. It waits until every queue of events and media has N
consumers, builds the end-to-end bench's typical event over HTTP (team of
three, ~200 rows a copy takes, 20 images), and runs one unmeasured copy per
client. Then `--copies` copies from `--clients` concurrent clients (green
threads, a connection each): `POST /v1/events/{event}/copy` as the owner (a
request id of its own, no Idempotency-Key), then poll the copy, as the
end-to-end bench's checks do but one after the other on the client's
connection (`--poll-ms` between GETs), until it shows its team, its own
five image URLs and its sponsors' own logo URLs.

Per N: copies per second (copies / wall time from the first POST to the last
completion), p50/p99 of a copy's latency (its POST sent → the GET with which its
last check passed), the CPU seconds each process used meanwhile, and per
events and media process how many `media.copied` / `event.copied` it handled
(its log lines), to show that every instance took a share. Then the ratio
of the throughputs, 2 instances / 1.

Progress goes to stdout; the tables go to stdout and (unless `--no-docs`)
the "Scale-out" section of `docs/benchmarks.md`; the last line is
`RESULT scaleout copies_per_s_1=… copies_per_s_2=… ratio=…`.
"""
import eventlet

eventlet.monkey_patch()

import os

os.environ.setdefault("TEST_DATABASE_URL",
                      "postgresql+psycopg2://root@127.0.0.1:5432/{service}_bench")

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import date
from pathlib import Path

import requests

from bench.common import (
    machine,
    markdown_table,
    percentile,
    plain_table,
    postgres_settings,
    write_section,
)
from bench.e2e_copy_bench import CHECKS, Poller, build_event
from bench.load import CpuMeter
from tests.support.http import ok
from tests.support.system import BROKER_AUTH, MANAGEMENT, System

DOCS = Path("docs/benchmarks.md")
SYSTEM_NAME = "scaleout"
SCALED = ("events", "media")
# the log line each handled message of a copy leaves, per scaled service
HANDLED = {"media": "on_event_copied handled event.copied",
           "events": "on_media_copied handled media.copied"}
COPY_TIMEOUT = 120  # seconds a copy may take to show complete


# --- the system: N processes of events and media -----------------------------

def process_names(service, instances):
    """The process names: "events", "events#2", … (as `System.start_service` takes them)."""
    return [service if n == 1 else f"{service}#{n}" for n in range(1, instances + 1)]


def queue_consumers(vhost):
    """{queue name: consumers} of the vhost."""
    answer = requests.get(f"{MANAGEMENT}/queues/{requests.utils.quote(vhost, safe='')}",
                          params={"columns": "name,consumers"}, auth=BROKER_AUTH, timeout=10)
    answer.raise_for_status()
    return {queue["name"]: queue.get("consumers", 0) for queue in answer.json()}


def service_queues(consumers, service):
    """The queues `service` consumes: its RPC queue and its event handlers'."""
    return {name: count for name, count in consumers.items()
            if name == f"rpc-{service}" or (f"--{service}." in name and ".retry." not in name)}


def await_consumers(system, instances, timeout=60):
    """Wait until each queue of the scaled services has `instances` consumers
    (the management API's figures lag by up to ~5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        consumers = queue_consumers(system.vhost)
        queues = {service: service_queues(consumers, service) for service in SCALED}
        if all(f"rpc-{service}" in queues[service]
               and all(count == instances for count in queues[service].values())
               for service in SCALED):
            return queues
        if time.monotonic() > deadline:
            raise RuntimeError(f"not {instances} consumers per queue after {timeout} s: {queues}")
        time.sleep(0.5)


def start_system(instances, workdir):
    system = System(SYSTEM_NAME, workdir, proxies=False)
    if any(url.rsplit("/", 1)[-1].endswith("_test") for url in system.urls.values()):
        raise SystemExit(f"refusing to run on test databases: {system.urls}")
    print(f"N={instances}: starting the system on {', '.join(system.urls.values())},"
          f" vhost {system.vhost}", flush=True)
    return system


def add_instances(system, instances):
    for service in SCALED:
        for name in process_names(service, instances)[1:]:
            system.start_service(name)
    queues = await_consumers(system, instances)
    print(f"N={instances}: {sum(len(q) for q in queues.values())} queues of"
          f" {' and '.join(SCALED)} with {instances} consumer(s) each", flush=True)


# --- the copies -------------------------------------------------------------

def copy_once(client, source, request_id, interval):
    """POST the copy, then poll it until it is complete: when (perf_counter)
    the POST was sent and the last check passed, and the GETs it took."""
    sent = time.perf_counter()
    copied = ok(client.post(f"/v1/events/{source['id']}/copy",
                            headers={"X-Request-Id": request_id}), 201)
    # the checks one after the other, on the client's one connection
    poller = Poller(dict.fromkeys(CHECKS, client), source, copied["id"], interval)
    deadline = time.monotonic() + COPY_TIMEOUT
    latency_ms = max(poller.until(check, sent, deadline) for check in CHECKS)
    return {"request_id": request_id, "sent": sent, "done": sent + latency_ms / 1000,
            "latency_ms": latency_ms, "gets": len(poller.gets)}


def run_copies(owner, source, copies, clients, interval, label, progress=False):
    """`copies` copies by `clients` green threads; each copy's figures."""
    todo = iter(range(copies))  # shared: each thread takes the next number
    done = []

    def client():
        session = owner.session()  # a client of its own (its own connection)
        for number in todo:
            done.append(copy_once(session, source, f"{label}-{number}-{uuid.uuid4().hex[:6]}",
                                  interval))
            if progress and len(done) % 10 == 0:
                last = [copy["latency_ms"] for copy in done[-10:]]
                print(f"{label}: {len(done)}/{copies} copies complete; last 10 median"
                      f" {percentile(last, 0.5):.0f} ms", flush=True)

    threads = [eventlet.spawn(client) for _ in range(clients)]
    try:
        for thread in threads:
            thread.wait()
    finally:
        for thread in threads:
            thread.kill()
    return done


# --- what each process did ---------------------------------------------------

def log_positions(system):
    return {name: system.log_path(name).stat().st_size if system.log_path(name).exists() else 0
            for name in system.processes}


def log_records(system, name, since):
    with open(system.log_path(name), "rb") as log:
        log.seek(since.get(name, 0))
        lines = log.read().decode(errors="replace").splitlines()
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:
            continue


def handled_counts(system, since, instances, copies, timeout=10):
    """Per events and media process, the messages of the copies it handled
    (its log lines since `since`), once each service's add up to `copies`
    (the line is written just after the handler's commit, so the last may
    come a moment after the copy showed complete)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = {name: sum(record.get("message", "").startswith(HANDLED[service])
                            for record in log_records(system, name, since))
                  for service in SCALED for name in process_names(service, instances)}
        if all(sum(counts[name] for name in process_names(service, instances)) >= copies
               for service in SCALED) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def complaints(system, since):
    """WARNING and ERROR log lines since `since`, per process."""
    return {name: [record for record in log_records(system, name, since)
                   if record.get("level") in ("WARNING", "ERROR", "CRITICAL")]
            for name in system.processes}


# --- one N -------------------------------------------------------------------

def measure(instances, args, workdir):
    system = start_system(instances, workdir)
    started = False
    try:
        system.start()
        started = True
        if instances > 1:
            add_instances(system, instances)
        print(f"N={instances}: system healthy", flush=True)
        owner, source, rows, records = build_event(system)
        run_copies(owner, source, args.clients, args.clients, args.poll_ms / 1000,
                   f"scale{instances}-warm")
        print(f"N={instances}: warmed up ({args.clients} copies, one per client)", flush=True)
        since = log_positions(system)
        pids = {name: system.pid(name) for name in system.processes}
        meter = CpuMeter({**pids, "client (this bench)": os.getpid()})
        copies = run_copies(owner, source, args.copies, args.clients, args.poll_ms / 1000,
                            f"scale{instances}", progress=True)
        cpu = meter.stop()
        handled = handled_counts(system, since, instances, args.copies)
        warnings = complaints(system, since)
        settings = postgres_settings(system.engine("events"))
    except BaseException:
        if started:
            print(system.log_tail(), file=sys.stderr)
        raise
    finally:
        system.close()
    wall = max(c["done"] for c in copies) - min(c["sent"] for c in copies)
    latencies = [c["latency_ms"] for c in copies]
    result = {"instances": instances, "copies": len(copies), "wall_s": wall,
              "copies_per_s": len(copies) / wall,
              "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
              "gets": statistics.fmean(c["gets"] for c in copies),
              "cpu": cpu, "handled": handled, "warnings": warnings,
              "rows": rows, "records": records, "postgres": settings}
    print(f"N={instances}: {result['copies']} copies in {wall:.1f} s:"
          f" {result['copies_per_s']:.2f} copies/s, p50 {result['p50_ms']:.0f} ms,"
          f" p99 {result['p99_ms']:.0f} ms; machine {cpu['machine_busy_pct']:.0f}% busy"
          f" ({cpu['cpus']} cores); handled: "
          + ", ".join(f"{name} {count}" for name, count in handled.items()), flush=True)
    if instances > 1:
        print(f"N={instances}: every events and media process handled a share:"
              f" {'yes' if shared_work(result) else 'NO'}", flush=True)
    for name, records_ in warnings.items():
        for record in records_[:5]:
            print(f"N={instances}: {name} logged {record.get('level')}:"
                  f" {record.get('message')}", flush=True)
    return result


# --- reporting ---------------------------------------------------------------

def throughput_table(results):
    header = ["events+media processes", "copies", "wall s", "copies/s", "p50 ms", "p99 ms",
              "GETs per copy", "machine busy"]
    rows = [[f"{r['instances']} each", str(r["copies"]), f"{r['wall_s']:.1f}",
             f"{r['copies_per_s']:.2f}", f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}",
             f"{r['gets']:.1f}", f"{r['cpu']['machine_busy_pct']:.0f}%"] for r in results]
    return header, rows


def work_table(results):
    """Per process: CPU seconds used during the copies and, for events and
    media, the copies' messages it handled; a column per N."""
    names = []
    for r in results:
        for name in [*r["cpu"]["services_s"], *r["cpu"]["servers_s"]]:
            if name not in names:
                names.append(name)
    header = ["process", *(f"N={r['instances']}: CPU s" for r in results),
              *(f"N={r['instances']}: handled" for r in results)]
    rows = []
    for name in names:
        cpu = [r["cpu"]["services_s"].get(name, r["cpu"]["servers_s"].get(name)) for r in results]
        handled = [r["handled"].get(name) for r in results]
        rows.append([name, *("" if value is None else f"{value:.1f}" for value in cpu),
                     *("" if value is None else str(value) for value in handled)])
    rows.append(["machine (all CPUs busy)",
                 *(f"{r['cpu']['machine_busy_s']:.1f}" for r in results), *("" for _ in results)])
    return header, rows


def ratio(results):
    by_n = {r["instances"]: r["copies_per_s"] for r in results}
    return by_n[2] / by_n[1] if 1 in by_n and 2 in by_n else None


def command(args):
    line = "PYTHONPATH=. .venv/bin/python -m bench.scaleout_bench"
    if (args.copies, args.clients, args.instances, args.poll_ms) != (200, 8, [1, 2], 100):
        line += (f" --copies {args.copies} --clients {args.clients}"
                 f" --instances {','.join(map(str, args.instances))} --poll-ms {args.poll_ms:g}")
    return line


def docs_section(results, args, host):
    first = results[0]
    value = ratio(results)
    ratio_line = (f"Throughput with 2 processes each / with 1: **{value:.2f}×**."
                  if value is not None else "Throughput ratio: not measured (needs N = 1 and 2).")
    return f"""## Scale-out

{date.today().isoformat()}, {host}. {first['postgres']}, RabbitMQ, the services and the client
on the same machine.

```
{command(args)}
```

{args.copies} copies per row, {args.clients} concurrent clients.

{markdown_table(*throughput_table(results))}

{ratio_line}

Work per process during the measured copies: CPU seconds (from /proc; PostgreSQL and
RabbitMQ are all their processes, which other runs on the machine may use too) and, for
each events and media process, how many of the copies' `media.copied` (events) and
`event.copied` (media) messages it handled (its log lines):

{markdown_table(*work_table(results))}

{textwrap.fill(method(results, args), 92, break_long_words=False, break_on_hyphens=False)}
"""


def method(results, args):
    first, cores = results[0], os.cpu_count()
    processes = 2 + 2 * max(r["instances"] for r in results)
    busy = ", ".join(f"{r['cpu']['machine_busy_pct']:.0f}% with {r['instances']} process"
                     f"{'es' if r['instances'] > 1 else ''} each" for r in results)
    return " ".join([
        "Method. For each N a system of its own (`tests.support.system.System`, the services"
        " reaching RabbitMQ and PostgreSQL directly, without the reliability tests' TCP proxies;"
        " databases emptied, a vhost of its own): N `nameko run` processes of the events service"
        " and N of the media service – competing consumers on the same RPC and event-handler"
        " queues, each process with its own worker pool and database connections – and one"
        " process each of roles and gateway, which are not scaled here (`bench.gateway_bench`"
        " measures a second gateway process).",
        "Each events and media process runs an outbox relay, but only one relays at a time (an"
        " advisory lock keeps the outbox in order): publishing does not scale out, by design.",
        "The bench waits until every events and media queue has N consumers, builds the"
        f" end-to-end bench's typical event ({first['rows']} rows a copy takes,"
        f" {first['records']} media records, a team of three) and makes one unmeasured copy per"
        f" client. Then {args.clients} clients (green threads of this process, a connection"
        f" each) make {args.copies} copies between them: each `POST /v1/events/{{event}}/copy`"
        " as the owner (no Idempotency-Key), then polls the copy, one check after the other"
        f" with {args.poll_ms:g} ms between GETs, until its team is the source's and its five"
        " image URLs and every sponsor's logo URL are set and differ from the source's.",
        "Copies per second are the copies divided by the time from the first POST to the last"
        " copy seen complete; a copy's latency runs from sending its POST to the GET with which"
        " its last check passed (up to a poll period late; the polling is part of the load);"
        " p99 is nearest-rank.",
        "A client starts its next copy only when the last is complete (a closed loop), so the"
        " throughput is at most clients / latency: when the machine is not fully busy, the"
        " clients rather than the services may set the pace.",
        f"The machine has {cores} cores, shared by everything: the {processes} service"
        " processes, PostgreSQL, RabbitMQ, the client and any other run on the machine. A"
        " second events or media process can at best use CPU the first leaves idle – on"
        f" {cores} cores, the other core, which the gateway, roles, PostgreSQL, RabbitMQ and"
        f" the client also need. The machine's CPUs were busy {busy} (100% = all {cores}"
        " cores), so the ratio shows what a second process gains when CPU is that scarce, not"
        " what it would gain on a core or machine of its own.",
        shares(results),
    ])


def shared_work(result):
    """Whether every events and media process handled some of the copies."""
    return all(count > 0 for count in result["handled"].values())


def shares(results):
    scaled = [r for r in results if r["instances"] > 1]
    if not scaled:
        return "No run had more than one process per service."
    if all(shared_work(r) for r in scaled):
        return ("With more than one process per service, every events and every media process "
                "handled a share of the copies' messages (the queues spread the work among "
                "them, see the table above): the work is handed out by RabbitMQ's queues and "
                "the state is kept in PostgreSQL, not in a process, so the design scales out "
                "by adding processes (and machines) rather than within one process.")
    return ("With more than one process per service, not every events and media process "
            "handled a share of the copies' messages (see the table above).")


# --- main -----------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--instances", default="1,2",
                        help="comma-separated numbers of events and media processes")
    parser.add_argument("--poll-ms", type=float, default=100,
                        help="sleep between a copy's polling GETs")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    try:
        args.instances = [int(n) for n in args.instances.split(",")]
    except ValueError:
        parser.error("--instances: comma-separated numbers, e.g. 1,2")
    if not args.instances or min(args.instances) < 1:
        parser.error("--instances: each at least 1")
    if args.copies < 1 or args.clients < 1:
        parser.error("--copies and --clients: at least 1")
    return args


def main():
    args = parse_args()
    host = machine()
    results = []
    for instances in args.instances:
        with tempfile.TemporaryDirectory(prefix="scaleout-bench-") as workdir:
            results.append(measure(instances, args, workdir))
    print(plain_table(*throughput_table(results)))
    print(plain_table(*work_table(results)))
    value = ratio(results)
    if value is not None:
        print(f"throughput with 2 processes each / with 1: {value:.2f}x")
    if not args.no_docs:
        write_section(DOCS, "Scale-out", docs_section(results, args, host))
        print(f"written: {DOCS}")
    by_n = {r["instances"]: r["copies_per_s"] for r in results}
    figures = " ".join(f"copies_per_s_{n}={by_n[n]:.2f}" for n in sorted(by_n))
    print(f"RESULT scaleout {figures} ratio={'n/a' if value is None else f'{value:.2f}'}")


if __name__ == "__main__":
    main()
