# ruff: noqa: E402  (eventlet's monkey patch comes before every other import)
"""Message path benchmark: our outbox → relay → `@consume` + inbox path
against the raw nameko path with no guarantees.

    PYTHONPATH=. .venv/bin/python -m bench.message_bench [--events 5000] [--rounds 3]
        [--paced 500] [--paced-interval-ms 5] [--profile DIR] [--patch FILE]
        [--ours batch|single] [--observability PROFILE,…]

Small bench services, each a nameko `ServiceContainer` in a process of its
own (as `nameko run` would run it; this module re-runs itself with
`--serve ROLE`), on a RabbitMQ vhost of their own (made through the
management API, deleted at the end) and two bench databases
(`messages_producer_bench`, `messages_consumer_bench`). The producer logs
in as a broker user of its own, `benchsrc`, which its messages name as
their source: `@consume` believes a message only from its source's user.

- `benchsrc`, the producer: our `OutboxRelay` on its database's outbox, and
  a plain nameko `EventDispatcher`; RPC methods write outbox rows (a burst:
  `--events` rows in transactions of 500, one multi-row INSERT and one
  NOTIFY each; or paced: one `shared.outbox.add` per transaction, as a
  service writes them) or dispatch events (a burst: `--events` `dispatch`
  calls from `--raw-dispatchers` green threads at once, so that the raw
  producer, whose every `dispatch` waits for the broker's confirm, is not
  what limits the raw path; or paced), and say when each was committed or
  sent (a dispatch: when it was called);
- `benchours`, our consumer: `@consume_batches(BenchPing)` +
  `apply_each_once` (a batch's inbox rows and its effects, one multi-row
  INSERT into `effects`, in one transaction; `shared.batches`), or with
  `--ours single` `@consume(BenchPing)` + `apply_once` (a message's inbox
  row and its INSERT in one transaction), with the services'
  `RequestContext` and their JSON logging at INFO (one `handled` line a
  batch, or a message);
- ours, the producer and our consumer, with the services' `Metrics` and
  `Tracing` as `--observability` says, a comma-separated list of
  `PROFILES`: `off` (`METRICS_ENABLED` and `TRACING_ENABLED` false),
  `metrics` (traces off), `default` (both on, no collector: the services'
  defaults), `collector` (every trace sent by OTLP/HTTP to a stand-in
  collector, `bench.collector`, as to Jaeger's), `sampled` (the same with
  `TRACE_SAMPLE_RATIO` 0.1); each profile is a path of its own, taking
  turns with the others (the two processes restarted with its settings,
  then warmed up); the first is the one compared with raw, and each other
  is compared with `off`, if measured: throughput and the CPU time the
  producer and the consumer spent per event (the steadier figure on a
  shared machine);
- `benchraw`, the raw consumer: a plain `@event_handler` making the same
  INSERT into `effects` in its own transaction (no inbox, nothing else).

Both consumers: the services' `Database` unit of work, `max_workers` 10 (so
prefetch 10, a batch handler's `MESSAGE_PREFETCH`; `--max-workers`), the same
machine. Each consumer notes the time after its transaction has committed.
Per round, with the paths taking turns:

- burst: `--events` events; throughput = events / (last effect committed −
  first outbox row committed, or first event dispatched); latency per event
  from its outbox commit (ours) or its dispatch (raw) to its effect's
  commit, which here is mostly queueing behind the burst;
- paced: `--paced` events, one every `--paced-interval-ms`, well under
  either path's capacity: the latency of one message on an idle path.

The throughput is the median over rounds; latencies are pooled over them.
`--profile DIR` adds one unmeasured burst of ours with py-spy sampling the
producer and our consumer, and prints where their time goes. `--patch FILE`
runs FILE (Python) in each bench service before it starts, to measure a
proposed change to `shared/` without editing it.

Progress goes to stdout; the tables go to stdout and `docs/benchmarks.md`;
the last line is `RESULT messages per_s=… p99_ms=… raw_per_s=…`.
"""
import eventlet

eventlet.monkey_patch()

import argparse
import collections
import json
import logging.config
import os
import runpy
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from nameko.containers import ServiceContainer
from nameko.events import EventDispatcher, event_handler
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    create_engine,
    insert,
    text,
)

from bench.collector import Collector
from bench.common import machine, markdown_table, percentile, plain_table, write_section
from shared import outbox as outbox_rows
from shared.amqp import DEVELOPMENT_BROKER_PASSWORD
from shared.batches import consume_batches
from shared.broker import Management
from shared.context import RequestContext
from shared.db import Database
from shared.handlers import consume
from shared.inbox import apply_each_once, apply_once
from shared.messages import Message
from shared.metrics import Metrics
from shared.relay import OutboxRelay
from shared.tables import metadata as shared_metadata
from shared.tables import outbox
from shared.tracing import Tracing
from tests.support.system import create_vhost, delete_vhost

DOCS = Path("docs/benchmarks.md")
DATABASE = "postgresql+psycopg2://root@127.0.0.1:5432/{name}"
DATABASES = {"producer": "messages_producer_bench", "consumer": "messages_consumer_bench"}
BURST_TRANSACTION = 500  # outbox rows per transaction of a burst
MAX_WORKERS = 10
ROLES = ("producer", "ours", "raw")

effects_metadata = MetaData()
effects = Table(
    "effects", effects_metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("message_id", Uuid, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("path", String(10), nullable=False),
)


PRODUCER = "benchsrc"  # the producer's service name and broker user


class BenchPing(Message):
    source = PRODUCER
    event_type = "bench.ours"

    seq: int


RAW_EVENT = "bench.raw"
STAMPS = []  # (seq, time) a consumer notes after each committed effect
RELAYED = []  # (time, rows) of each batch the relay published


# --- the bench services ---------------------------------------------------------

class TimedRelay(OutboxRelay):
    """Our relay, noting when each batch it published was committed."""

    def relay_batch(self):
        count = super().relay_batch()
        if count:
            RELAYED.append((time.time(), count))
        return count


class Producer:
    name = "benchsrc"

    db = Database()
    relay = TimedRelay()
    dispatch = EventDispatcher()
    metrics = Metrics()
    tracing = Tracing()

    @rpc
    def outbox_burst(self, first, count):
        """`count` outbox rows, seq `first`…, in transactions of
        BURST_TRANSACTION rows (one INSERT, one NOTIFY each); the commit time
        of each seq."""
        committed = {}
        for start in range(first, first + count, BURST_TRANSACTION):
            seqs = range(start, min(start + BURST_TRANSACTION, first + count))
            with self.db.transaction() as session:
                messages = [BenchPing(seq=seq) for seq in seqs]
                session.execute(insert(outbox), [
                    {"message_id": m.message_id, "event_type": m.event_type,
                     "payload": m.to_payload(), "headers": {}} for m in messages])
                session.execute(text(f"NOTIFY {outbox_rows.CHANNEL}"))
            now = time.time()
            committed.update({seq: now for seq in seqs})
        return committed

    @rpc
    def outbox_paced(self, first, count, interval):
        """One `shared.outbox.add` per transaction, every `interval` s."""
        committed = {}
        for seq in range(first, first + count):
            with self.db.transaction() as session:
                outbox_rows.add(session, BenchPing(seq=seq))
            committed[seq] = time.time()
            eventlet.sleep(interval)
        return committed

    @rpc
    def dispatch_burst(self, first, count, threads):
        """`count` events from `threads` green threads dispatching at once
        (each `dispatch` waits for the broker's confirm); when each was sent."""
        sent = {}

        def send(seq):
            sent[seq] = time.time()
            self.dispatch(RAW_EVENT, raw_payload(seq))

        pool = eventlet.GreenPool(threads)
        for seq in range(first, first + count):
            pool.spawn_n(send, seq)
        pool.waitall()
        return sent

    @rpc
    def dispatch_paced(self, first, count, interval):
        sent = {}
        for seq in range(first, first + count):
            sent[seq] = time.time()
            self.dispatch(RAW_EVENT, raw_payload(seq))
            eventlet.sleep(interval)
        return sent

    @rpc
    def relayed(self):
        batches = list(RELAYED)
        RELAYED.clear()
        return batches


def raw_payload(seq):
    return {"message_id": str(uuid.uuid4()), "seq": seq}


def insert_effect(session, message):
    session.execute(insert(effects).values(message_id=message.message_id, seq=message.seq,
                                           path="ours"))


def insert_effects(session, messages):
    session.execute(insert(effects), [{"message_id": m.message_id, "seq": m.seq, "path": "ours"}
                                      for m in messages])


class OursConsumer:
    """Ours in batches (`MESSAGE_BATCH_SIZE`, `MESSAGE_PREFETCH`)."""

    name = "benchours"

    db = Database()
    request_context = RequestContext()
    metrics = Metrics()
    tracing = Tracing()

    @consume_batches(BenchPing)
    def handle(self, messages):
        apply_each_once(self.db, self.name, messages, insert_effects)
        now = time.time()
        STAMPS.extend((message.seq, now) for message in messages)

    @rpc
    def stamps(self):
        return take_stamps()


class OursSingle(OursConsumer):
    """Ours a message at a time (`--ours single`): `@consume`, as before batches."""

    @consume(BenchPing)
    def handle(self, message):
        apply_once(self.db, self.name, message, insert_effect)
        STAMPS.append((message.seq, time.time()))


class RawConsumer:
    name = "benchraw"

    db = Database()

    @event_handler("benchsrc", RAW_EVENT)
    def handle(self, payload):
        with self.db.transaction() as session:
            session.execute(insert(effects).values(
                message_id=uuid.UUID(payload["message_id"]), seq=payload["seq"], path="raw"))
        STAMPS.append((payload["seq"], time.time()))

    @rpc
    def stamps(self):
        return take_stamps()


def take_stamps():
    stamps = list(STAMPS)
    STAMPS.clear()
    return stamps


SERVICES = {"producer": Producer, "ours": OursConsumer, "raw": RawConsumer}


def serve(role):
    """Run one bench service until SIGTERM (the child process's side)."""
    config = json.loads(os.environ["MESSAGE_BENCH_CONFIG"])[role]
    patch = os.environ.get("MESSAGE_BENCH_PATCH")
    if patch:
        runpy.run_path(patch)
    logging.config.dictConfig(config["LOGGING"])
    service = OursSingle if (role, config["OURS"]) == ("ours", "single") else SERVICES[role]
    container = ServiceContainer(service, config)
    container.start()
    Path(os.environ["MESSAGE_BENCH_READY"]).touch()
    signal.signal(signal.SIGTERM, lambda *_: eventlet.spawn_n(container.stop))
    waiter = eventlet.spawn(container.wait)
    while True:
        try:
            waiter.wait()
            return
        except OSError:  # the signal interrupted the hub's wait
            continue


# --- the driver's side: broker, databases, processes ----------------------------

def service_config(role, vhost, level, max_workers, ours, observability):
    """A bench service's config, observed as `observability` (settings) says."""
    service = SERVICES[role].name
    database = DATABASES["producer" if role == "producer" else "consumer"]
    login = f"{PRODUCER}:{DEVELOPMENT_BROKER_PASSWORD}" if role == "producer" else "guest:guest"
    return {
        "AMQP_URI": f"pyamqp://{login}@127.0.0.1:5672/{vhost}",
        "DATABASE_URL": DATABASE.format(name=database),
        "max_workers": max_workers,
        "OUTBOX_POLL_INTERVAL": 1.0,
        "HANDLER_RETRY_DELAYS": [1, 5, 25],
        "OURS": ours,
        **observability,
        "METRICS_ADDRESS": "",  # counted, not served: nothing scrapes the bench
        "LOGGING": {
            "version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": "shared.logs.JsonFormatter", "service": service}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
            "root": {"level": level, "handlers": ["console"]},
        },
    }


def create_producer(vhost):
    """The producer's broker user, with every permission on the bench's
    vhost, and its events exchange (consumers do not declare their
    sources' exchanges: `python -m shared.broker setup` does, for the
    system's services)."""
    api = Management()
    try:
        api.put(f"users/{PRODUCER}", {"password": DEVELOPMENT_BROKER_PASSWORD, "tags": ""})
        api.put(f"permissions/{vhost}/{PRODUCER}",
                {"configure": ".*", "write": ".*", "read": ".*"})
        api.put(f"exchanges/{vhost}/{PRODUCER}.events",
                {"type": "topic", "durable": True, "auto_delete": False, "internal": False,
                 "arguments": {}})
    finally:
        api.close()


def prepare_databases():
    """Create the bench databases if missing, their tables, and empty them."""
    server = create_engine(DATABASE.format(name="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        existing = set(conn.scalars(text("SELECT datname FROM pg_database")))
        for name in DATABASES.values():
            if name not in existing:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    engines = {}
    for role, name in DATABASES.items():
        engine = engines[role] = create_engine(DATABASE.format(name=name))
        shared_metadata.create_all(engine)
        effects_metadata.create_all(engine)
    empty(engines)
    return engines


def empty(engines):
    for engine in engines.values():
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE outbox, inbox, effects RESTART IDENTITY"))


class Services:
    """The three bench services, each in a process of its own; ours (the
    producer and our consumer) observed as a profile of `PROFILES` says, its
    spans sent to `collector` (a URL) if the profile sends any."""

    def __init__(self, workdir, vhost, collector, patch=None, level="INFO",
                 max_workers=MAX_WORKERS, ours="batch"):
        self.workdir, self.vhost = Path(workdir), vhost
        self.settings = (vhost, level, max_workers, ours)
        self.collector = collector
        self.patch = patch
        self.processes = {}
        self.profile = None

    def start(self, profile):
        self._configure(profile)
        # the consumers first: their queues must exist before anything is published
        for role in ("ours", "raw", "producer"):
            self._spawn(role)
        self.rpc = ClusterRpcProxy(self.config["producer"], timeout=300)
        self.cluster = self.rpc.start()
        return self

    def observe(self, profile):
        """Ours observed as `profile` says: restarted if it was not; whether it was."""
        if profile == self.profile:
            return False
        self._configure(profile)
        for role in ("ours", "producer"):
            self._stop(role)
        for role in ("ours", "producer"):
            self._spawn(role)
        return True

    def _configure(self, profile):
        self.profile = profile
        observability = observability_settings(profile, self.collector)
        self.config = {role: service_config(role, *self.settings, observability)
                       for role in ROLES}

    def cpu_seconds(self, roles):
        """The CPU time (user and system) the processes of `roles` have spent."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for role in roles:
            fields = Path(f"/proc/{self.processes[role].pid}/stat").read_text()
            fields = fields.rpartition(")")[2].split()  # after the command's name
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def _spawn(self, role):
        ready = self.workdir / f"{role}.ready"
        ready.unlink(missing_ok=True)
        env = {**os.environ, "MESSAGE_BENCH_CONFIG": json.dumps(self.config),
               "MESSAGE_BENCH_READY": str(ready), "PYTHONPATH": os.getcwd()}
        if self.patch:
            env["MESSAGE_BENCH_PATCH"] = str(Path(self.patch).resolve())
        with open(self.workdir / f"{role}.log", "a") as log:
            self.processes[role] = subprocess.Popen(
                [sys.executable, "-m", "bench.message_bench", "--serve", role],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.processes[role].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{role} did not start:\n{self.log(role)[-3000:]}")
            time.sleep(0.05)

    def _stop(self, role):
        process = self.processes.pop(role)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self, role):
        path = self.workdir / f"{role}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self):
        if hasattr(self, "rpc"):
            self.rpc.stop()
        for role in list(self.processes):
            self._stop(role)


# --- measuring ------------------------------------------------------------------

def wait_for_effects(engine, path, count, timeout):
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM effects WHERE path = :path")
    while True:
        with engine.connect() as conn:
            done = conn.scalar(query, {"path": path})
        if done >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path}: only {done} of {count} effects after {timeout} s")
        time.sleep(0.02)


def measure(services, engines, path, mode, first, count, interval, dispatchers=1):
    """One burst or paced run of one path: its figures."""
    producer = services.cluster.benchsrc
    consumer = getattr(services.cluster, "benchours" if path == "ours" else "benchraw")
    consumer.stamps()  # start from none
    roles = ("producer", path)
    cpu_before = services.cpu_seconds(roles)
    if path == "ours":
        producer.relayed()
        if mode == "burst":
            started = producer.outbox_burst(first, count)
        else:
            started = producer.outbox_paced(first, count, interval)
    elif mode == "burst":
        started = producer.dispatch_burst(first, count, dispatchers)
    else:
        started = producer.dispatch_paced(first, count, interval)
    wait_for_effects(engines["consumer"], path, count, timeout=120 + count / 50)
    cpu = services.cpu_seconds(roles) - cpu_before
    done = dict(consumer.stamps())
    started = {int(seq): at for seq, at in started.items()}
    if set(done) != set(started):
        raise RuntimeError(f"{path} {mode}: {len(done)} effects for {len(started)} events")
    latencies = [(done[seq] - started[seq]) * 1000 for seq in started]
    elapsed = max(done.values()) - min(started.values())
    result = {"path": path, "mode": mode, "events": count, "latencies": latencies,
              "per_s": count / elapsed, "seconds": elapsed, "cpu_us": cpu / count * 1e6,
              "produced_s": max(started.values()) - min(started.values())}
    if path == "ours":
        batches = producer.relayed()
        result["relayed_s"] = max(at for at, _ in batches) - min(started.values())
        result["batches"] = len(batches)
    return result


# how ours is observed: a description, and the settings of its producer and
# consumer (`collector`: the stand-in collector's URL in the exporter's place)
PROFILES = {
    "off": ("metrics and traces off", {"METRICS_ENABLED": False, "TRACING_ENABLED": False}),
    "metrics": ("metrics on, traces off", {"TRACING_ENABLED": False}),
    "default": ("metrics and traces on, no collector: the services' defaults", {}),
    "collector": ("metrics and traces on, every trace sent to a collector",
                  {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector"}),
    "sampled": ("metrics and traces on, one trace in ten sent to a collector",
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector", "TRACE_SAMPLE_RATIO": 0.1}),
}


def observability_settings(profile, collector):
    settings = {"METRICS_ENABLED": True, "TRACING_ENABLED": True,
                "OTEL_EXPORTER_OTLP_ENDPOINT": "", "TRACE_SAMPLE_RATIO": 1.0,
                **PROFILES[profile][1]}
    if settings["OTEL_EXPORTER_OTLP_ENDPOINT"]:
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector
    return settings


def label(path):
    if path == "raw":
        return "raw: EventDispatcher → @event_handler"
    return f"ours: outbox → relay → consumer + inbox, {PROFILES[path][0]}"


def profiles_of(text):
    profiles = text.split(",")
    unknown = set(profiles) - set(PROFILES)
    if unknown or len(set(profiles)) != len(profiles):
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of distinct profiles of {', '.join(PROFILES)}")
    return profiles


def run_round(services, engines, args, number, seq):
    """Every path (ours as each profile, and raw), burst then paced, in turns
    (the other way round in odd rounds); ours restarted as its turn needs."""
    paths = [*args.observability, "raw"][::-1 if number % 2 else 1]
    results = []
    for mode, count, interval in (("burst", args.events, 0),
                                  ("paced", args.paced, args.paced_interval_ms / 1000)):
        for path in paths:
            seq = observe(services, engines, path, seq)
            empty(engines)
            result = {**measure(services, engines, "raw" if path == "raw" else "ours", mode, seq,
                                count, interval, args.raw_dispatchers), "path": path}
            seq += count
            results.append(result)
            print(f"round {number + 1}: {path:9} {mode}: {result['per_s']:7.0f} events/s,"
                  f" {result['cpu_us']:5.0f} µs CPU an event,"
                  f" latency p50 {percentile(result['latencies'], 0.5):7.1f} ms,"
                  f" p99 {percentile(result['latencies'], 0.99):7.1f} ms", flush=True)
    return results, seq


def observe(services, engines, path, seq):
    """Ours observed as `path` (a profile) says, restarted and warmed up if
    it was not (raw: as it is); the next seq."""
    if path == "raw" or not services.observe(path):
        return seq
    empty(engines)
    measure(services, engines, "ours", "paced", seq, 50, 0.002)  # warm-up
    print(f"ours restarted: {PROFILES[path][0]}", flush=True)
    return seq + 50


# --- profiling ------------------------------------------------------------------

HUB = ("eventlet hub: polling and switching (time runnable but waiting for a core counts here)",
       "Hub.wait (eventlet")
BUCKETS = {  # role -> [(label, substring of a frame)], the first that matches a stack wins
    "producer": [
        ("relay: publish, one confirmed publish per row (nameko Publisher → kombu → py-amqp:"
         " frames written, then the broker's ack awaited)", "publish (nameko/amqp/publish.py"),
        ("relay: reading and deleting the batch, commit (SQLAlchemy, psycopg2)",
         "relay_batch (shared/relay.py"),
        ("relay: NOTIFY wake-up", "_wait_for_notify"),
        ("RPC: writing the outbox burst", "outbox_burst"),
        HUB,
    ],
    "ours": [
        ("message parsed (pydantic) before the worker", "parse (shared/messages.py"),
        ("inbox rows: first_delivery, first_deliveries (INSERT … ON CONFLICT DO NOTHING"
         " RETURNING)", "first_deliver"),
        ("effect INSERT", "insert_effect"),
        ("commit", "commit"),
        ("other unit-of-work (session, connection pool, pre-ping)", "shared/db.py"),
        ("the `handled` log line (JSON formatting, write)", "logging/__init__.py"),
        ("ack and worker bookkeeping (nameko, kombu)", "handle_message_processed"),
        ("worker spawn, dependency injection (nameko)", "containers.py"),
        ("receiving, decoding (kombu, py-amqp)", "kombu"),
        HUB,
    ],
}


def profile(services, engines, args, seq, directory):
    """One unmeasured burst of ours with py-spy on the producer and our consumer."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    samplers = {role: subprocess.Popen(
        [spy, "record", "--pid", str(services.processes[role].pid), "--format", "raw",
         "--rate", "250", "--output", str(directory / f"{role}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for role in ("producer", "ours")}
    time.sleep(1)
    try:
        empty(engines)
        result = measure(services, engines, "ours", "burst", seq, args.events, 0)
    finally:
        for sampler in samplers.values():
            sampler.send_signal(signal.SIGINT)
        for sampler in samplers.values():
            sampler.wait(timeout=60)
    print(f"profiled burst (py-spy at 250 Hz): {result['per_s']:.0f} events/s", flush=True)
    return {role: summarise_profile(directory / f"{role}.txt", BUCKETS[role])
            for role in samplers}


def summarise_profile(path, buckets):
    """Share of the busy samples per bucket, and the top frames by own time."""
    totals, own = collections.Counter(), collections.Counter()
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        count = int(count)
        busy += count
        frames = stack.split(";")
        label = next((label for label, needle in buckets
                      if any(needle in frame for frame in frames)), "other")
        totals[label] += count
        own[frames[-1]] += count
    return {"busy": busy, "buckets": totals, "own": own.most_common(12)}


def profile_text(profiles):
    lines = []
    for role, summary in profiles.items():
        busy = summary["busy"] or 1
        lines.append(f"{role}: {summary['busy']} busy samples")
        for label, count in summary["buckets"].most_common():
            lines.append(f"  {100 * count / busy:5.1f}%  {label}")
        lines.append("  top frames by own time:")
        for frame, count in summary["own"]:
            lines.append(f"  {100 * count / busy:5.1f}%  {frame}")
    return "\n".join(lines)


# --- reporting ------------------------------------------------------------------

def summary(results, path, mode):
    chosen = [r for r in results if r["path"] == path and r["mode"] == mode]
    latencies = [ms for r in chosen for ms in r["latencies"]]
    return {"per_s": statistics.median(r["per_s"] for r in chosen),
            "per_s_all": [r["per_s"] for r in chosen],
            "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
            "max": max(latencies), "events": sum(r["events"] for r in chosen),
            "cpu_us": statistics.median(r["cpu_us"] for r in chosen),
            "cpu_us_all": [r["cpu_us"] for r in chosen],
            "produced_s": statistics.median(r["produced_s"] for r in chosen),
            "seconds": statistics.median(r["seconds"] for r in chosen),
            "relayed_s": (statistics.median(r["relayed_s"] for r in chosen)
                          if path != "raw" else None)}


def tables(results, paths):
    header = ["path", "burst events/s (median)", "per round", "burst CPU µs an event",
              "burst p50 ms", "burst p99 ms", "paced p50 ms", "paced p99 ms", "paced max ms"]
    rows = []
    for path in paths:
        burst, paced = summary(results, path, "burst"), summary(results, path, "paced")
        rows.append([label(path), f"{burst['per_s']:.0f}",
                     " / ".join(f"{value:.0f}" for value in burst["per_s_all"]),
                     f"{burst['cpu_us']:.0f}", f"{burst['p50']:.0f}", f"{burst['p99']:.0f}",
                     f"{paced['p50']:.1f}", f"{paced['p99']:.1f}", f"{paced['max']:.1f}"])
    return header, rows


def stage_note(results, events, dispatchers, ours_path):
    ours, raw = summary(results, ours_path, "burst"), summary(results, "raw", "burst")
    relay_rate, consumer_rate = events / ours["relayed_s"], ours["per_s"]
    limit = ("the relay was the limit (the consumer kept pace with it)"
             if relay_rate < 1.1 * consumer_rate else "our consumer was the limit")
    return (f"Where a burst spends its time (medians): the producer wrote the {events} outbox"
            f" rows in {ours['produced_s'] * 1000:.0f} ms; the relay had published and"
            f" deleted the last batch {ours['relayed_s']:.2f} s after the first commit"
            f" ({relay_rate:.0f} events/s through the relay), the consumer its last effect"
            f" {ours['seconds']:.2f} s after it: {limit}. The raw producer took"
            f" {raw['produced_s']:.2f} s for its {events} `dispatch` calls from {dispatchers}"
            f" green threads ({events / raw['produced_s']:.0f}/s, each call waiting for the"
            f" broker's confirm), its consumer {raw['seconds']:.2f} s.")


def cost_notes(results, profiles):
    """What each profile costs ours against `off`: throughput and CPU per
    event, each a ratio of the medians and round by round; paced p99 (none
    unless `off` was measured)."""
    if "off" not in profiles:
        return []
    off = {mode: summary(results, "off", mode) for mode in ("burst", "paced")}
    notes = []
    for profile in (p for p in profiles if p != "off"):
        burst, paced = (summary(results, profile, mode) for mode in ("burst", "paced"))
        rates = " / ".join(f"{a / b:.2f}" for a, b in zip(
            burst["per_s_all"], off["burst"]["per_s_all"], strict=True))
        cpus = " / ".join(f"{a / b:.2f}" for a, b in zip(
            burst["cpu_us_all"], off["burst"]["cpu_us_all"], strict=True))
        notes.append(
            f"Ours with {PROFILES[profile][0]}, against off: a burst {burst['per_s']:.0f} events/s"
            f" against {off['burst']['per_s']:.0f} ({burst['per_s'] / off['burst']['per_s']:.3f}×;"
            f" round by round {rates}); CPU of the producer and the consumer"
            f" {burst['cpu_us']:.0f} µs an event against {off['burst']['cpu_us']:.0f}"
            f" ({burst['cpu_us'] / off['burst']['cpu_us']:.3f}×; round by round {cpus});"
            f" paced p99 {paced['p99']:.1f} ms against {off['paced']['p99']:.1f}.")
    return notes


OURS_METHOD = {
    "batch": "`@consume_batches(BenchPing)` + `apply_each_once` (`MESSAGE_BATCH_SIZE` 50,"
             " `MESSAGE_PREFETCH` 100, the defaults: each batch what has arrived, parsed; one"
             " transaction with the batch's inbox rows in one INSERT … ON CONFLICT DO NOTHING"
             " RETURNING and its effects in one multi-row INSERT into `effects`; then an ack"
             " per message and one `handled` line per batch)",
    "single": "`@consume(BenchPing)` + `apply_once` (parse, inbox row and one INSERT into"
              " `effects` in one transaction per message, a `handled` line per message)",
}


def observability_text(profiles):
    return "; ".join(f"`{profile}`, {PROFILES[profile][0]}" for profile in profiles)


def goal(ours, raw):
    ratio = ours / raw
    return f"{ratio:.2f}× raw, goal ≥ 1.5×: {'met' if ratio >= 1.5 else 'not met'}"


def docs_section(results, args, host, profiles, command, spans):
    header, rows = tables(results, [*args.observability, "raw"])
    ours_path = args.observability[0]
    ours, raw = summary(results, ours_path, "burst"), summary(results, "raw", "burst")
    cost = "".join(f"\n- {note}" for note in cost_notes(results, args.observability))
    if spans:
        cost += f"\n- The collector received {spans} spans."
    profile_block = (f"\n\nProfile of one more burst of ours (py-spy, 250 Hz, share of the"
                     f" samples in which the process was busy):\n\n```\n"
                     f"{profile_text(profiles)}\n```" if profiles else "")
    return f"""## Message path

{date.today().isoformat()}, {host}. PostgreSQL (fsync on, synchronous_commit on) and
RabbitMQ on the same machine.

```
{command}
```

{args.rounds} rounds; each round a burst of {args.events} events and {args.paced} paced events
(one every {args.paced_interval_ms:g} ms) per path, the paths taking turns.

{markdown_table(header, rows)}

- Throughput, ours ({PROFILES[ours_path][0]}) against raw: {goal(ours['per_s'], raw['per_s'])}.
- {stage_note(results, args.events, args.raw_dispatchers, ours_path)}{cost}

Method. Three small bench services, each a nameko `ServiceContainer` in a process of its
own, on a RabbitMQ vhost of their own and two bench databases. **ours**: the producer's
outbox rows (a burst: {BURST_TRANSACTION} rows per transaction, one INSERT and one NOTIFY
each; paced: one `shared.outbox.add` per transaction, as the services write them) are
published by our `OutboxRelay` (NOTIFY wake-up, batches of 200, one wait for the publisher
confirms of a batch, the rows deleted in the transaction that read them) and consumed by
{OURS_METHOD[args.ours]}; the services' `RequestContext` and JSON `handled` log lines at
INFO; the producer and our consumer observed as each profile says (`--observability`:
{observability_text(args.observability)}), each a path of its own, restarted and warmed
up before its turn (the spans go by OTLP/HTTP to a stand-in collector, `bench.collector`,
which counts them and keeps none); the CPU figure is the time the producer's and the
consumer's processes spent (user and system, `/proc`) over a burst, per event. **raw**:
the producer's plain `EventDispatcher` (nameko's default publisher confirms; a burst's
`dispatch` calls come from {args.raw_dispatchers} green threads at once, so that the raw
producer is not what limits the raw path) and a plain `@event_handler` making the same
INSERT in its own transaction. Both consumers use the services' `Database` unit of work and
`max_workers` {args.max_workers} (nameko's prefetch is `max_workers`; a batch handler's is
`MESSAGE_PREFETCH`). Each consumer notes the
time right after its transaction commits; a burst's throughput is its events over the time
from the first outbox commit (ours) or the first dispatch call (raw) to the last effect's
commit, its latencies (outbox commit or dispatch call → effect committed) are mostly
queueing behind the burst; the paced latencies are those of a message on an idle path.
Throughput: median over the rounds; latencies: nearest-rank percentiles over all rounds'
events.{profile_block}
"""


# --- main -----------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paced", type=int, default=500)
    parser.add_argument("--paced-interval-ms", type=float, default=5)
    parser.add_argument("--profile", metavar="DIR",
                        help="one more, unmeasured burst of ours under py-spy; raw profiles"
                             " go to DIR")
    parser.add_argument("--patch", metavar="FILE",
                        help="Python run in each bench service before it starts")
    parser.add_argument("--raw-dispatchers", type=int, default=10,
                        help="green threads dispatching the raw burst at once")
    parser.add_argument("--max-workers", type=int, default=MAX_WORKERS,
                        help="max_workers (and so prefetch) of the bench services")
    parser.add_argument("--log-level", default="INFO", help="the bench services' log level")
    parser.add_argument("--ours", choices=("batch", "single"), default="batch",
                        help="our consumer in batches (`@consume_batches`) or a message at a"
                             " time (`@consume`)")
    parser.add_argument("--observability", type=profiles_of, default=["default"],
                        metavar="PROFILE,…",
                        help=f"how ours is observed, one path per profile of"
                             f" {', '.join(PROFILES)} (the first is compared with raw, the"
                             f" others with off)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--serve", choices=ROLES, help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.serve:
        return serve(args.serve)
    host = machine()
    engines = prepare_databases()
    vhost = f"message-bench-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    create_producer(vhost)
    print(f"vhost {vhost}, databases {', '.join(DATABASES.values())}", flush=True)
    with Collector() as collector:
        results, profiles = run(args, engines, vhost, collector.url)
    command = "PYTHONPATH=. .venv/bin/python -m bench.message_bench"
    options = [f"--{name.replace('_', '-')} {value}" for name, value, default in (
        ("events", args.events, 5000), ("rounds", args.rounds, 3), ("paced", args.paced, 500),
        ("paced_interval_ms", args.paced_interval_ms, 5), ("profile", args.profile, None),
        ("patch", args.patch, None), ("log_level", args.log_level, "INFO"),
        ("raw_dispatchers", args.raw_dispatchers, 10), ("max_workers", args.max_workers, 10),
        ("ours", args.ours, "batch"),
        ("observability", ",".join(args.observability), "default"))
        if value != default]
    command = " ".join([command, *options])
    if not args.no_docs:
        write_section(DOCS, "Message path",
                      docs_section(results, args, host, profiles, command, collector.spans))
        print(f"written: {DOCS}")
    ours_path = args.observability[0]
    print(plain_table(*tables(results, [*args.observability, "raw"])))
    print(stage_note(results, args.events, args.raw_dispatchers, ours_path))
    print("\n".join(cost_notes(results, args.observability)))
    if profiles:
        print(profile_text(profiles))
    ours, raw = summary(results, ours_path, "burst"), summary(results, "raw", "burst")
    paced, raw_paced = summary(results, ours_path, "paced"), summary(results, "raw", "paced")
    cost = ""
    if "off" in args.observability and ours_path != "off":
        off = summary(results, "off", "burst")
        cost = (f" off_per_s={off['per_s']:.0f} off_ratio={ours['per_s'] / off['per_s']:.3f}"
                f" off_cpu_ratio={ours['cpu_us'] / off['cpu_us']:.3f}")
    print(f"RESULT messages per_s={ours['per_s']:.0f} p99_ms={paced['p99']:.1f}"
          f" raw_per_s={raw['per_s']:.0f} p50_ms={paced['p50']:.1f}"
          f" raw_p99_ms={raw_paced['p99']:.1f} burst_p99_ms={ours['p99']:.0f}"
          f" ratio={ours['per_s'] / raw['per_s']:.2f}{cost}")


def run(args, engines, vhost, collector):
    """The bench services up, warmed up, every round measured (and the
    profile, if asked), and everything down again: the results and profiles."""
    services = Services(tempfile.mkdtemp(prefix="message-bench-"), vhost, collector, args.patch,
                        args.log_level, args.max_workers, args.ours)
    profiles = None
    try:
        services.start(args.observability[0])
        print("bench services up (producer, ours, raw)", flush=True)
        measure(services, engines, "ours", "paced", 1, 50, 0.002)  # warm-up
        measure(services, engines, "raw", "paced", 51, 50, 0.002)
        print("warmed up", flush=True)
        results, seq = [], 101
        for number in range(args.rounds):
            round_results, seq = run_round(services, engines, args, number, seq)
            results += round_results
        if args.profile:
            profiles = profile(services, engines, args, seq, args.profile)
    except BaseException:
        for role in ROLES:
            print(f"--- {role} log (tail)\n{services.log(role)[-2000:]}", file=sys.stderr)
        raise
    finally:
        services.close()
        delete_vhost(vhost)
        empty(engines)
        for engine in engines.values():
            engine.dispose()
    return results, profiles


if __name__ == "__main__":
    main()
