"""The gateway under load, with wrk at 50 connections, signed in: `GET
/v1/events/{event}` of a draft event (the sign-in and the permission
checked), the event's tracks (`GET /v1/events/{event}/tracks`) and "my
events" (`GET /v1/events`), and the mixed read/write load of `bench.load`,
each with one and with two gateway processes (the second listens on the
same port: eventlet sets SO_REUSEPORT, so the kernel spreads the
connections); in the same run, the minimal baseline of
`bench.gateway_baseline` (one nameko HTTP entrypoint, one RpcProxy call,
one row read).

    PYTHONPATH=. .venv/bin/python -m bench.gateway_bench [--seconds 20] [--connections 50]
        [--mixed-connections 16] [--renames 200] [--no-docs]

It starts a system of its own (`tests.support.system.System` with
`proxies=False`: the services reaching RabbitMQ and PostgreSQL directly) on
`{service}_gateway_bench` databases, and the baseline's two services on the
same vhost and events database. Goal (issue 20): each read at ≥ 2× the
baseline's requests/s with p99 ≤ half the baseline's; the mixed load's p99
≤ 500 ms with 0 errors. Beside each read: the CPU per request by process,
the read cache's hit ratio and the gateway processes' resident memory.
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402
from eventlet.event import Event  # noqa: E402

os.environ.setdefault("TEST_DATABASE_URL",
                      "postgresql+psycopg2://root@127.0.0.1:5432/{service}_bench")

from bench import load  # noqa: E402
from bench.common import machine, markdown_table, write_section  # noqa: E402
from tests.reliability.copies import EVENT  # noqa: E402
from tests.support.http import ok, sign_up  # noqa: E402
from tests.support.metrics import scrape  # noqa: E402
from tests.support.system import ROOT, System, free_port  # noqa: E402
from tests.support.tap import wait_until  # noqa: E402

DOCS = Path("docs/benchmarks.md")
GOAL_RATIO, GOAL_MIXED_P99_MS = 2.0, 500
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
READS = {"get": "`GET /v1/events/{event}`", "tracks": "`GET /v1/events/{event}/tracks`",
         "mine": "`GET /v1/events` (my events)"}


def wrk(url, seconds, connections, token=None):
    """wrk's requests/s, p50 and p99 (ms) and non-2xx count for `url`."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "p50_ms": _latency(out, "50%"), "p99_ms": _latency(out, "99%"),
            "errors": int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])}


def _latency(out, percentile):
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()
    return round(float(value) * UNITS[unit], 1)


def start_baseline(system, workdir):
    port = free_port()
    config = {"AMQP_URI": system.env["AMQP_URI"], "DATABASE_URL": system.urls["events"],
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "max_workers": 50}
    path = Path(workdir) / "baseline.yml"
    path.write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/nameko"), "run", "--config", str(path),
         "bench.gateway_baseline:Reader", "bench.gateway_baseline:Front"],
        cwd=ROOT, env=system.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--mixed-connections", type=int, default=16,
                        help="wrk connections of the mixed load (one per wrk thread)")
    parser.add_argument("--renames", type=int, default=200,
                        help="renames of the freshness measure")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    host = f"{date.today().isoformat()}, {machine()}"
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    system = System("gateway", workdir, proxies=False).start()
    runs = {}
    try:
        owner = sign_up(system.api, "owner")
        event = ok(owner.api.post("/v1/events", EVENT), 201)  # a draft: the check is asked
        for name in ("Main", "Workshops"):
            ok(owner.api.post(f"/v1/events/{event['id']}/tracks",
                              {"name": name, "color": "#1A2B3C"}), 201)
        token = owner.token
        urls = {"get": f"{system.base_url}/v1/events/{event['id']}",
                "tracks": f"{system.base_url}/v1/events/{event['id']}/tracks",
                "mine": f"{system.base_url}/v1/events"}
        print(f"preparing the mixed load's users and events for {args.mixed_connections} "
              "connections", flush=True)
        mixed = MixedLoad(system.base_url, args.mixed_connections, workdir, system.mailbox)
        baseline, baseline_url = start_baseline(system, workdir)
        try:
            _await(lambda: ok(system.api.session.get(f"{baseline_url}/row/{event['id']}")))
            # the baseline first and the mixed loads last: the work a mixed load
            # leaves queued (media of its copies, deliveries) would slow what follows
            print(f"baseline, {args.connections} connections, {args.seconds} s", flush=True)
            wrk(f"{baseline_url}/row/{event['id']}", 3, args.connections)
            runs["baseline"] = with_cpu({"baseline": baseline.pid}, lambda: wrk(
                f"{baseline_url}/row/{event['id']}", args.seconds, args.connections))
            for gateways in (1, 2):
                if gateways > 1:
                    system.start_service(f"gateway#{gateways}")
                    wait_until(lambda n=gateways: listeners(system.port) >= n, timeout=30)
                pids = {service: process.pid for service, process in system.processes.items()}
                gateway_pids = {name: pid for name, pid in pids.items()
                                if name.startswith("gateway")}
                for read, url in urls.items():
                    print(f"{gateways} gateway process(es): warming up, then {READS[read]}, "
                          f"{args.connections} connections, {args.seconds} s", flush=True)
                    wrk(url, 3, args.connections, token)
                    counted = read_cache_counts(system, gateway_pids)
                    runs[f"{read}{gateways}"] = run = with_cpu(pids, lambda url=url: wrk(
                        url, args.seconds, args.connections, token))
                    run["hit_ratio"] = hit_ratio(counted, read_cache_counts(system, gateway_pids))
                    run["rss_mib"] = round(sum(map(resident_mib, gateway_pids.values())), 1)
            print("freshness: a reader polls while the event is renamed", flush=True)
            fresh = freshness(owner, event, args.renames)
            for gateways in (2, 1):
                print(f"{gateways} gateway process(es): mixed load, {args.seconds} s",
                      flush=True)
                pids = {service: process.pid for service, process in system.processes.items()}
                runs[f"mixed{gateways}"] = with_cpu(pids, lambda n=gateways: mixed.run(
                    n, args.seconds))
                if gateways == 2:
                    system.stop_service("gateway#2")
        finally:
            baseline.terminate()
            baseline.wait(timeout=30)
    finally:
        system.close()
    print(f"freshness: {fresh}")
    for name in ("mixed1", "mixed2"):
        for kind, figures in runs[name]["kinds"].items():
            print(f"{name} {kind:>12}: {figures['requests']} requests, p50 {figures['p50_ms']} "
                  f"ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms")
    for name, run in runs.items():
        print(f"{name:>9}: {run['rps']:.0f} requests/s, p50 {run['p50_ms']} ms, "
              f"p99 {run['p99_ms']} ms, errors {run['errors']}; "
              f"CPU ms per request {run.get('cpu_ms')}")
    best = {read: best_of(runs, read) for read in READS}
    print(f"RESULT gateway_get rps={best['get']['rps']} p50_ms={best['get']['p50_ms']} "
          f"p99_ms={best['get']['p99_ms']} errors={best['get']['errors']} "
          f"baseline_rps={runs['baseline']['rps']} baseline_p99_ms={runs['baseline']['p99_ms']} "
          f"one_process_rps={runs['get1']['rps']} "
          f"tracks_rps={best['tracks']['rps']} tracks_p99_ms={best['tracks']['p99_ms']} "
          f"mine_rps={best['mine']['rps']} mine_p99_ms={best['mine']['p99_ms']} "
          f"mixed_rps={runs['mixed2']['rps']} mixed_p99_ms={runs['mixed2']['p99_ms']} "
          f"mixed_errors={runs['mixed2']['errors']}")
    if not args.no_docs:
        write_section(DOCS, "Gateway", _section(runs, fresh, args, host))


def with_cpu(pids, run):
    """`run()`'s figures, with the CPU time each process used in ms per request."""
    meter = load.CpuMeter(pids)
    figures = run()
    used = meter.stop()
    requests = figures["rps"] * used["wall_s"]
    figures["cpu_ms"] = {name: round(1000 * seconds / requests, 2) for name, seconds in
                         {**used["services_s"], **used["servers_s"], "wrk": used["wrk_s"],
                          "machine": used["machine_busy_s"]}.items()}
    return figures


def freshness(owner, event, renames):
    """How soon another reader sees a change: the event renamed `renames`
    times, one after the other, while a reader (its own connection, either
    gateway process) reads it without pause. Per rename, the time from
    sending it to the end of the first read that shows it, and how many
    reads that began after the rename was answered still showed an older
    name (stale: must be 0)."""
    path = f"/v1/events/{event['id']}"
    writer, reader = owner.session(), owner.session()
    seen, done = [], Event()

    def read():
        while not done.ready():
            began = time.perf_counter()
            name = ok(reader.get(path))["name"]
            seen.append((began, time.perf_counter(), name))

    polling = eventlet.spawn(read)
    renamed = []
    for n in range(renames):
        sent = time.perf_counter()
        ok(writer.patch(path, {"name": f"Renamed {n}"}))
        renamed.append((f"Renamed {n}", sent, time.perf_counter()))
        eventlet.sleep(0.005)
    done.send()
    polling.wait()
    lags, stale = [], 0
    for n, (name, sent, answered) in enumerate(renamed):
        shown = [end for _, end, seen_name in seen if seen_name == name]
        if shown:
            lags.append(1000 * (min(shown) - sent))
        older = {event["name"], *(other for other, _, _ in renamed[:n])}
        stale += sum(1 for began, _, seen_name in seen
                     if began > answered and seen_name in older
                     and (n + 1 == len(renamed) or began < renamed[n + 1][1]))
    lags.sort()
    return {"renames": renames, "seen": len(lags), "reads": len(seen), "stale": stale,
            "p50_ms": round(lags[len(lags) // 2], 1),
            "p99_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 1)}


def best_of(runs, read):
    """The run of `read` with one or two gateway processes that served more."""
    return max((runs[f"{read}1"], runs[f"{read}2"]), key=lambda run: run["rps"])


def read_cache_counts(system, gateway_pids):
    """{result: reads} over the gateway processes' read cache (`read_cache_total`)."""
    counts = {}
    for name in gateway_pids:
        for (sample, labels), count in scrape(system.metrics_url(name)).items():
            if sample == "read_cache_total":
                result = dict(labels)["result"]
                counts[result] = counts.get(result, 0) + count
    return counts


def hit_ratio(before, after):
    hits = after.get("hit", 0) - before.get("hit", 0)
    reads = sum(after.values()) - sum(before.values())
    return round(hits / reads, 4) if reads else None


def resident_mib(pid):
    """A process's resident memory now, in MiB (/proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024, 1)


def listeners(port):
    """How many sockets listen on `port`."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines
               if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A")


class MixedLoad:
    """`bench.load`'s mixed reads and writes, one wrk run at a time."""

    def __init__(self, base_url, connections, workdir, mailbox):
        self.base_url, self.connections, self.workdir = base_url, connections, workdir
        self.prepared = load.prepare(base_url, connections, mailbox)
        self.image = workdir / "image.png"
        self.image.write_bytes(load.png(800, 320, (20, 90, 140), (240, 200, 40)))

    def run(self, run, seconds):
        """Run `run` (1 or 2: each has invitees of its own) for `seconds`."""
        plan, out = self.workdir / f"plan{run}.lua", self.workdir / f"wrk{run}.json"
        load.write_plan(plan, self.prepared, run, self.connections, [self.image])
        _, raw, answers, failures = load.run_wrk(self.base_url, plan, out, seconds,
                                                 self.connections, self.workdir / f"wrk{run}.txt")
        return load.summarize(raw, answers, failures, seconds)


def _await(call, timeout=30):
    """The first answer of a server that may still be starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _section(runs, fresh, args, host):
    baseline = runs["baseline"]
    names = [(f"{read}{n}", f"{label}, {n} gateway process{'es' if n > 1 else ''}")
             for read, label in READS.items() for n in (1, 2)]
    names += [("mixed1", "mixed reads and writes, 1 gateway process"),
              ("mixed2", "mixed reads and writes, 2 gateway processes"),
              ("baseline", "baseline: HTTP + one RpcProxy call")]
    rows = [[name, f"{runs[key]['rps']:.0f}", f"{runs[key]['p50_ms']}", f"{runs[key]['p99_ms']}",
             str(runs[key]["errors"]), _ratio(runs[key], baseline) if key != "baseline" else "",
             _percent(runs[key].get("hit_ratio")), str(runs[key].get("rss_mib", ""))]
            for key, name in names]
    goals = []
    for read, label in READS.items():
        best = best_of(runs, read)
        met = (best["rps"] >= GOAL_RATIO * baseline["rps"]
               and best["p99_ms"] <= baseline["p99_ms"] / GOAL_RATIO)
        goals.append(f"- {label}: {'met' if met else 'not met'} ({best['rps']:.0f} requests/s, "
                     f"{best['rps'] / baseline['rps']:.2f}× the baseline; p99 "
                     f"{best['p99_ms']} ms, {best['p99_ms'] / baseline['p99_ms']:.2f}× the "
                     f"baseline's)")
    mixed = min((runs["mixed1"], runs["mixed2"]), key=lambda run: run["p99_ms"])
    mixed_met = mixed["p99_ms"] <= GOAL_MIXED_P99_MS and mixed["errors"] == 0
    goals.append(f"- mixed load: {'met' if mixed_met else 'not met'} (p99 {mixed['p99_ms']} "
                 f"ms, {mixed['errors']} errors)")
    goals_text = "\n".join(goals)
    return f"""## Gateway

{host}

```
PYTHONPATH=. .venv/bin/python -m bench.gateway_bench --seconds {args.seconds}
```

wrk, {args.connections} connections ({args.mixed_connections} for the mixed load),
{args.seconds} s each (each read after a 3 s warm-up);
"× baseline" is requests/s over the baseline's; the hit ratio is the read
cache's over the run (every read the requests made: sign-in, permission,
event, page); RSS is the gateway processes' resident memory after the run.

{markdown_table(["load", "requests/s", "p50 ms", "p99 ms", "errors", "× baseline",
                 "cache hits", "gateway RSS MiB"], rows)}

CPU time per request, in ms, by process (from /proc; PostgreSQL, RabbitMQ
and Redis are all their processes; "machine" is every busy CPU, the sum of
the others and anything else running):

{_cpu_table(runs)}

Goals: each read ≥ {GOAL_RATIO:g}× the baseline's requests/s with p99 ≤ 1/{GOAL_RATIO:g} of
the baseline's (the better of one and two gateway processes); the mixed
load's p99 ≤ {GOAL_MIXED_P99_MS} ms with 0 errors.

{goals_text}

Freshness for a reader who did not write: the event renamed
{fresh['renames']} times in turn while another connection read it without
pause ({fresh['reads']} reads): from sending a rename to the end of the
first read showing it, p50 {fresh['p50_ms']} ms, p99 {fresh['p99_ms']} ms
({fresh['seen']} of {fresh['renames']} renames seen; a rename replaced
before any read began is not); reads that began after a rename was
answered and showed an older name: {fresh['stale']}.

Method. The services one process each, one or two gateway processes (the
second on the same port, SO_REUSEPORT), wrk and this script, all on the
same 2 cores. Each read is signed in: the gateway checks the token, then
reads whether its sign-in is on, the event, the caller's permission and
the page from the read cache (`services.gateway.reads`), asking the
roles and events services only what is not kept there. The baseline does
one RpcProxy call to a service reading one row, nothing else. The mixed
load is `bench.load`'s (wrk with `bench/load.lua`, one connection per wrk
thread): per 100 requests 68 reads (event, child lists, team, invites,
media bytes) and 32 writes (children, image uploads, copies and repeated
copies, invite and accept); errors count every answer other than the one
expected.
"""


def _ratio(run, baseline):
    return f"{run['rps'] / baseline['rps']:.2f}"


def _percent(ratio):
    return "" if ratio is None else f"{100 * ratio:.1f} %"


def _cpu_table(runs):
    keys = [key for read in [*READS, "mixed"] for key in (f"{read}1", f"{read}2")]
    names = sorted({name for key in [*keys, "baseline"] for name in runs[key]["cpu_ms"]},
                   key=lambda name: (name == "machine", name))
    rows = [[name, *(str(runs[key]["cpu_ms"].get(name, "")) for key in [*keys, "baseline"])]
            for name in names]
    headers = [f"{key[:-1]}, {key[-1]} gw" for key in keys]
    return markdown_table(["process", *headers, "baseline"], rows)


if __name__ == "__main__":
    main()
