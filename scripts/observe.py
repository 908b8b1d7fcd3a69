"""`make observe`: Prometheus with the project's configuration
(deploy/prometheus: every service's /metrics, RabbitMQ's rabbitmq_prometheus,
the alerts; and PostgreSQL's exporter on its port 9187 where Debian's
`prometheus-postgres-exporter` is installed), in the foreground beside
`make run`; it says where to look
once every target answers (Prometheus scrapes a new target late: the
targets API is polled until each is up, or says which are not).

    python scripts/observe.py [--port 9090] [--config deploy/prometheus/prometheus.yml]

(`make observe PROMETHEUS_PORT=9091` where a Prometheus of the system's
own already takes 9090.)
"""
import argparse
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
POSTGRES_EXPORTER = ("prometheus-postgres-exporter", "127.0.0.1:9187")


def with_postgres_exporter(config, data_dir):
    """`config`, with a `postgres` job where the exporter is installed (a
    copy in `data_dir`), else as it is."""
    if not shutil.which(POSTGRES_EXPORTER[0]):
        return config
    settings = yaml.safe_load(Path(config).read_text())
    settings["rule_files"] = [str(Path(config).parent / name) for name in settings["rule_files"]]
    settings["scrape_configs"].append(
        {"job_name": "postgres", "static_configs": [{"targets": [POSTGRES_EXPORTER[1]]}]})
    copy = Path(data_dir) / "prometheus.yml"
    copy.write_text(yaml.safe_dump(settings))
    return copy


def start(config, port, data_dir):
    """A Prometheus process on 127.0.0.1:`port` with `config`, keeping its
    data and its log (`prometheus.log`) in `data_dir`."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(data_dir) / "prometheus.log", "ab") as log:
        return subprocess.Popen([
            shutil.which("prometheus") or "prometheus", f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={data_dir}",
        ], stdout=log, stderr=subprocess.STDOUT)


def targets(base_url):
    """{job: health} of every active target ('up', 'down' or 'unknown')."""
    answer = requests.get(f"{base_url}/api/v1/targets", timeout=5).json()
    return {target["labels"]["job"]: target["health"]
            for target in answer["data"]["activeTargets"]}


def await_targets_up(base_url, timeout=120, process=None):
    """Poll until every target is up (or `process` ends); {job: health} as last seen."""
    deadline, health = time.monotonic() + timeout, {}
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            health = targets(base_url)
        except requests.RequestException:
            pass
        if health and all(state == "up" for state in health.values()):
            break
        time.sleep(0.5)
    return health


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--data", default=str(ROOT / "var/prometheus"))
    args = parser.parse_args(argv)
    base_url = f"http://127.0.0.1:{args.port}"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # Prometheus stops with us
    Path(args.data).mkdir(parents=True, exist_ok=True)
    process = start(with_postgres_exporter(args.config, args.data), args.port, args.data)
    try:
        health = await_targets_up(base_url, process=process)
        if process.poll() is not None:
            log = (Path(args.data) / "prometheus.log").read_text(errors="replace")
            print(f"Prometheus stopped:\n{log[-2000:]}", file=sys.stderr)
            return 1
        for job, state in sorted(health.items()):
            print(f"  {job:<14} {state}")
        down = sorted(job for job, state in health.items() if state != "up")
        if down:
            print(f"not up: {', '.join(down)} (is `make run` running?)", file=sys.stderr)
        print(f"Prometheus: {base_url} (targets: {base_url}/targets, alerts: {base_url}/alerts;"
              " queries: docs/operations.md#metrics-and-alerts). Ctrl-C stops.")
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    sys.exit(main())
