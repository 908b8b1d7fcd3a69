"""Gateway reads: `GET /v1/events/{event}` of a draft event (token check and
permission check included) at 50 connections with wrk, in the same run as
the minimal baseline of `bench.gateway_baseline` (one nameko HTTP
entrypoint, one RpcProxy call, one row read).

    PYTHONPATH=. .venv/bin/python -m bench.gateway_bench [--seconds 20] [--connections 50]

It starts a system of its own (`tests.support.system.System`, the services
reaching RabbitMQ and PostgreSQL directly) on `{service}_gateway_bench`
databases, and the baseline's two services on the same vhost and events
database. Goal: ≥ 1,000 requests/s with p99 ≤ 100 ms.
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

os.environ.setdefault("TEST_DATABASE_URL",
                      "postgresql+psycopg2://root@127.0.0.1:5432/{service}_bench")

from bench.common import machine, markdown_table, write_section  # noqa: E402
from bench.e2e_copy_bench import BenchSystem  # noqa: E402
from tests.reliability.copies import EVENT, signed_in  # noqa: E402
from tests.support.http import ok  # noqa: E402
from tests.support.system import ROOT, free_port  # noqa: E402

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
    workdir = tempfile.mkdtemp(prefix="gateway-bench-")
    system = BenchSystem("gateway", workdir).start()
    try:
        owner = signed_in(system.api, "owner")
        event = ok(owner.post("/v1/events", EVENT), 201)  # a draft: the check is asked
        token = owner.session.headers["Authorization"].split()[1]
        baseline, baseline_url = start_baseline(system, workdir)
        try:
            ok(_await(lambda: system.api.session.get(f"{baseline_url}/row/{event['id']}")))
            print("warming up both", flush=True)
            wrk(f"{system.base_url}/v1/events/{event['id']}", 3, args.connections, token)
            wrk(f"{baseline_url}/row/{event['id']}", 3, args.connections)
            print(f"gateway GET, {args.connections} connections, {args.seconds} s", flush=True)
            ours = wrk(f"{system.base_url}/v1/events/{event['id']}", args.seconds,
                       args.connections, token)
            print(f"baseline, {args.connections} connections, {args.seconds} s", flush=True)
            base = wrk(f"{baseline_url}/row/{event['id']}", args.seconds, args.connections)
        finally:
            baseline.terminate()
            baseline.wait(timeout=30)
    finally:
        system.close()
    print(f"RESULT gateway_get rps={ours['rps']} p50_ms={ours['p50_ms']} "
          f"p99_ms={ours['p99_ms']} errors={ours['errors']} baseline_rps={base['rps']} "
          f"baseline_p99_ms={base['p99_ms']}")
    if not args.no_docs:
        write_section(DOCS, "Gateway reads", _section(ours, base, args))


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


def _section(ours, base, args):
    rows = [[name, f"{run['rps']:.0f}", f"{run['p50_ms']}", f"{run['p99_ms']}",
             str(run["errors"])] for name, run in (("gateway `GET /v1/events/{event}`", ours),
                                                    ("baseline: HTTP + one RpcProxy call", base))]
    met = ours["rps"] >= GOAL_RPS and ours["p99_ms"] <= GOAL_P99_MS
    return f"""## Gateway reads

{machine()}

```
PYTHONPATH=. .venv/bin/python -m bench.gateway_bench --seconds {args.seconds}
```

wrk, 2 threads, {args.connections} connections, {args.seconds} s each, after a 3 s warm-up.

{markdown_table(["path", "requests/s", "p50 ms", "p99 ms", "non-2xx"], rows)}

- Goal ≥ {GOAL_RPS} requests/s with p99 ≤ {GOAL_P99_MS} ms: {"met" if met else "not met"}.

Method. One gateway process, the services one process each, all on the
benchmark's 2 cores with wrk itself. The gateway's GET of a draft event
checks the token, calls `events.get_event` and asks `roles.has_access`
(reused for 2 s, see `PERMISSION_CACHE_SECONDS`); the baseline does one
RpcProxy call to a service reading one row, nothing else.
"""


if __name__ == "__main__":
    main()
