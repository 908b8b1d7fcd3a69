"""The gateway under load, with wrk at 50 connections: `GET /v1/events/{event}`
of a draft event (token check and permission check included) and the mixed
read/write load of `bench.load`, each with one and with two gateway
processes (the second listens on the same port: eventlet sets SO_REUSEPORT,
so the kernel spreads the connections); in the same run, the minimal
baseline of `bench.gateway_baseline` (one nameko HTTP entrypoint, one
RpcProxy call, one row read).

    PYTHONPATH=. .venv/bin/python -m bench.gateway_bench [--seconds 20] [--connections 50]
        [--no-docs]

It starts a system of its own (`tests.support.system.System` with
`proxies=False`: the services reaching RabbitMQ and PostgreSQL directly) on
`{service}_gateway_bench` databases, and the baseline's two services on the
same vhost and events database. Goal: ≥ 1,000 GET requests/s with p99 ≤ 100 ms.
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

os.environ.setdefault("TEST_DATABASE_URL",
                      "postgresql+psycopg2://root@127.0.0.1:5432/{service}_bench")

from bench import load  # noqa: E402
from bench.common import machine, markdown_table, write_section  # noqa: E402
from tests.reliability.copies import EVENT  # noqa: E402
from tests.support.http import ok, sign_up  # noqa: E402
from tests.support.system import ROOT, System, free_port  # noqa: E402
from tests.support.tap import wait_until  # noqa: E402

DOCS = Path("docs/benchmarks.md")
GOAL_RPS, GOAL_P99_MS = 1000, 100
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


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
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    host = f"{date.today().isoformat()}, {machine()}"
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    system = System("gateway", workdir, proxies=False).start()
    runs = {}
    try:
        owner = sign_up(system.api, "owner")
        event = ok(owner.api.post("/v1/events", EVENT), 201)  # a draft: the check is asked
        token = owner.token
        get_url = f"{system.base_url}/v1/events/{event['id']}"
        print(f"preparing the mixed load's users and events for {args.connections} connections",
              flush=True)
        mixed = MixedLoad(system.base_url, args.connections, workdir, system.mailbox)
        baseline, baseline_url = start_baseline(system, workdir)
        try:
            _await(lambda: ok(system.api.session.get(f"{baseline_url}/row/{event['id']}")))
            for gateways in (1, 2):
                if gateways > 1:
                    system.start_service(f"gateway#{gateways}")
                    wait_until(lambda n=gateways: listeners(system.port) >= n, timeout=30)
                print(f"{gateways} gateway process(es): warming up, then GET, "
                      f"{args.connections} connections, {args.seconds} s", flush=True)
                wrk(get_url, 3, args.connections, token)
                pids = {service: process.pid for service, process in system.processes.items()}
                runs[f"get{gateways}"] = with_cpu(pids, lambda: wrk(
                    get_url, args.seconds, args.connections, token))
                print(f"{gateways} gateway process(es): mixed load, {args.seconds} s",
                      flush=True)
                runs[f"mixed{gateways}"] = mixed.run(gateways, args.seconds)
            print(f"baseline, {args.connections} connections, {args.seconds} s", flush=True)
            wrk(f"{baseline_url}/row/{event['id']}", 3, args.connections)
            runs["baseline"] = with_cpu({"baseline": baseline.pid}, lambda: wrk(
                f"{baseline_url}/row/{event['id']}", args.seconds, args.connections))
        finally:
            baseline.terminate()
            baseline.wait(timeout=30)
    finally:
        system.close()
    for name, run in runs.items():
        print(f"{name:>9}: {run['rps']:.0f} requests/s, p50 {run['p50_ms']} ms, "
              f"p99 {run['p99_ms']} ms, errors {run['errors']}; "
              f"CPU ms per request {run.get('cpu_ms')}")
    best = max((runs["get1"], runs["get2"]), key=lambda run: run["rps"])
    print(f"RESULT gateway_get rps={best['rps']} p50_ms={best['p50_ms']} "
          f"p99_ms={best['p99_ms']} errors={best['errors']} baseline_rps={runs['baseline']['rps']} "
          f"baseline_p99_ms={runs['baseline']['p99_ms']} one_process_rps={runs['get1']['rps']} "
          f"mixed_rps={runs['mixed2']['rps']} mixed_p99_ms={runs['mixed2']['p99_ms']}")
    if not args.no_docs:
        write_section(DOCS, "Gateway", _section(runs, args, host))


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


def _section(runs, args, host):
    names = (("get1", "`GET /v1/events/{event}`, 1 gateway process"),
             ("get2", "`GET /v1/events/{event}`, 2 gateway processes"),
             ("mixed1", "mixed reads and writes, 1 gateway process"),
             ("mixed2", "mixed reads and writes, 2 gateway processes"),
             ("baseline", "baseline: HTTP + one RpcProxy call"))
    rows = [[name, f"{runs[key]['rps']:.0f}", f"{runs[key]['p50_ms']}", f"{runs[key]['p99_ms']}",
             str(runs[key]["errors"])] for key, name in names]
    best = max((runs["get1"], runs["get2"]), key=lambda run: run["rps"])
    met = best["rps"] >= GOAL_RPS and best["p99_ms"] <= GOAL_P99_MS
    return f"""## Gateway

{host}

```
PYTHONPATH=. .venv/bin/python -m bench.gateway_bench --seconds {args.seconds}
```

wrk, {args.connections} connections, {args.seconds} s each (the GETs after a 3 s warm-up).

{markdown_table(["load", "requests/s", "p50 ms", "p99 ms", "errors"], rows)}

CPU time per GET request, in ms, by process (from /proc; PostgreSQL and
RabbitMQ are all their processes; "machine" is every busy CPU, the sum of
the others and anything else running):

{_cpu_table(runs)}

- Goal ≥ {GOAL_RPS} GET requests/s with p99 ≤ {GOAL_P99_MS} ms: {"met" if met else "not met"}
  (best: {best['rps']:.0f} requests/s, p99 {best['p99_ms']} ms;
  {best['rps'] / runs['baseline']['rps']:.2f}× the baseline).

Method. The services one process each, one or two gateway processes (the
second on the same port, SO_REUSEPORT), wrk and this script, all on the
same 2 cores. The gateway's GET of a draft event checks the token, calls
`events.get_event` and asks `roles.has_access` (a yes is reused for 2 s,
see `PERMISSION_CACHE_SECONDS`); the baseline does one RpcProxy call to a
service reading one row, nothing else. The mixed load is `bench.load`'s
(wrk with `bench/load.lua`, one connection per wrk thread): per 100
requests 68 reads (event, child lists, team, invites, media bytes) and 32
writes (children, image uploads, copies and repeated copies, invite and
accept); errors count every answer other than the one expected.
"""


def _cpu_table(runs):
    keys = ("get1", "get2", "baseline")
    names = sorted({name for key in keys for name in runs[key]["cpu_ms"]},
                   key=lambda name: (name == "machine", name))
    rows = [[name, *(str(runs[key]["cpu_ms"].get(name, "")) for key in keys)] for name in names]
    return markdown_table(["process", "GET, 1 gateway", "GET, 2 gateways", "baseline"], rows)


if __name__ == "__main__":
    main()
