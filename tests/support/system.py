"""The whole system as real service processes, one per service (`python -m
shared.serve`, the command `make run` runs), the one way the end-to-end and reliability tests
and the benchmarks start it. Stop, kill or restart any service, or start a
further process of one.

By default TCP proxies the tests control sit between the services and
RabbitMQ and between the services and PostgreSQL: cut, delay or restore
either. With `proxies=False` the services reach both directly (the
end-to-end tests, the benchmarks: no hop through this process).

Everything is the system's own: databases named `{service}_{name}` after
TEST_DATABASE_URL, a RabbitMQ vhost with the services' broker users set up
on it as `make db` sets them up (each service logs in as itself; `guest`
keeps its permissions there, for tests to observe with), a free port for
the gateway, and a mail catcher (`mailbox`: maildev on ports of its own)
the notifications service sends to. Checks read the databases directly (`engine(service)`), not
through the proxy. The gateway's rate limits count, and its read cache
keeps answers, on the local Redis under key prefixes of the system's own
(removed by `close`), with rate budgets no test meets unless it sets its own.
"""
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import redis
import requests
from limits.storage import storage_from_string
from sqlalchemy import create_engine, make_url

from services.gateway.settings import GatewaySettings
from shared.migrate import migrate
from tests.conftest import ROOT, TEST_DATABASE_URL
from tests.conftest import _empty as empty
from tests.support.broker import set_up_vhost
from tests.support.http import Api
from tests.support.mailbox import Mailbox
from tests.support.proxy import TcpProxy

SERVICES = ("events", "roles", "media", "notifications", "webhooks", "gateway")
DATABASES = ("events", "roles", "media", "notifications", "webhooks")
MANAGEMENT = "http://127.0.0.1:15672/api"
BROKER_AUTH = ("guest", "guest")
BROKER_PORT = 5672
JWT_SECRET = "system-test-secret-" + "x" * 32
RATE_LIMITS = ("SIGN_IN_ACCOUNT", "SIGN_IN_ADDRESS", "SIGN_UP_ADDRESS", "MAIL", "WRITE", "INVITE")
LOCAL_REDIS = GatewaySettings.model_fields["RATE_LIMIT_STORAGE"].default
ROOMY_BUDGET = "100000 per minute"  # the e2e, fuzz and load runs sign in from one address


class System:
    """`System(name, workdir).start()` … `close()`, or `with System(…) as system:`.
    `env`: settings over the quick ones `_env` gives every system;
    `cluster`: a started `tests.support.cluster.Cluster` to run on instead
    of the local broker (reached directly, no proxy)."""

    def __init__(self, name, workdir, env=None, proxies=True, cluster=None):
        self.name = name
        self.workdir = Path(workdir)
        self.vhost = f"{name}-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api = Api(self.base_url)
        self.metrics_ports = {service: free_port() for service in SERVICES}
        self.urls = {service: TEST_DATABASE_URL.format(service=f"{service}_{name}")
                     for service in DATABASES}
        self.extra_env = env or {}
        self.cluster = cluster
        self.proxies = proxies and cluster is None
        self.broker = self.database = None  # the TCP proxies, once started
        self.mailbox = None
        self.env = None
        self.processes = {}
        self._engines = {}

    # lifecycle

    def start(self):
        """Fresh databases and vhost, the services started and healthy; on
        any failure everything started so far is stopped again."""
        try:
            (self.cluster.create_vhost if self.cluster else create_vhost)(self.vhost)
            for service, url in self.urls.items():
                migrate(ROOT / "services" / service, url)
                empty(self.engine(service))
            self.mailbox = Mailbox().start()
            if self.proxies:
                self.broker = TcpProxy(BROKER_PORT)
                self.database = TcpProxy(make_url(self.urls["events"]).port or 5432)
            self.env = self._env()
            for service in SERVICES:
                self.start_service(service)
            self.await_healthy()
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Stop every process, then remove what `start` made but the databases."""
        for process in self.processes.values():  # all at once: a stop takes seconds
            process.send_signal(signal.SIGTERM)
        for service in list(self.processes):
            self._wait_for_end(service)
        for proxy in (self.broker, self.database):
            if proxy is not None:
                proxy.close()
        self.broker = self.database = None
        if self.mailbox is not None:
            self.mailbox.close()
            self.mailbox = None
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        (self.cluster.delete_vhost if self.cluster else delete_vhost)(self.vhost)
        if self.env is not None:
            clear_rate_limits(self.env.get("RATE_LIMIT_STORAGE", LOCAL_REDIS),
                              self.env["RATE_LIMIT_KEY_PREFIX"])
            clear_read_cache(self.env.get("READ_CACHE_URL", LOCAL_REDIS),
                             self.env["READ_CACHE_PREFIX"])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def start_service(self, service, **env):
        """Start `service` ("events"), or a further process of it ("events#2":
        its own key in `processes` and its own log, on the same queues), with
        `env` over the system's environment (`GATEWAY_ADDRESS=…`)."""
        log = open(self.log_path(service), "a")
        module = service.partition("#")[0]
        if service not in self.metrics_ports:  # a further process: metrics on a port of its own
            self.metrics_ports[service] = free_port()
        env = {**self.env,
               f"{module.upper()}_METRICS_ADDRESS": f"127.0.0.1:{self.metrics_ports[service]}",
               **env}
        self.processes[service] = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "-m", "shared.serve", module],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def stop_service(self, service, sig=signal.SIGTERM, timeout=60):
        """Signal the service and wait for it to end (SIGKILL after `timeout`)."""
        self.processes[service].send_signal(sig)
        return self._wait_for_end(service, timeout)

    def _wait_for_end(self, service, timeout=60):
        process = self.processes.pop(service)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def restart_service(self, service):
        self.stop_service(service)
        self.start_service(service)

    def await_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base_url}/v1/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: not healthy after {timeout} s\n{self.log_tail()}")

    # what tests look at

    def engine(self, service):
        """Straight to the service's database, past the proxy."""
        if service not in self._engines:
            self._engines[service] = create_engine(self.urls[service], pool_size=2)
        return self._engines[service]

    def pid(self, service):
        return self.processes[service].pid

    def metrics_url(self, service):
        """Where `service` serves its Prometheus metrics (`shared.metrics`)."""
        return f"http://127.0.0.1:{self.metrics_ports[service]}/metrics"

    def log_path(self, service):
        return self.workdir / f"{service}.log"

    def log_text(self, service=None):
        services = [service] if service else SERVICES
        return "".join(self.log_path(name).read_text(errors="replace") for name in services
                       if self.log_path(name).exists())

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _env(self):
        """The services reach RabbitMQ and PostgreSQL through the proxies, if any."""
        databases = {f"{service.upper()}_DATABASE_URL": self._through_proxy(url)
                     for service, url in self.urls.items()}
        broker_port = self.broker.port if self.broker else BROKER_PORT
        return {**os.environ, **databases,
                "PYTHONPATH": str(ROOT),  # scripts/demo.py imports tests.support
                "AMQP_URI": (self.cluster.amqp_uri(self.vhost) if self.cluster
                             else f"pyamqp://127.0.0.1:{broker_port}/{self.vhost}"),
                "GATEWAY_ADDRESS": f"127.0.0.1:{self.port}",
                "PUBLIC_BASE_URL": self.base_url,
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.mailbox.smtp_port),
                "MEDIA_ROOT": str(self.workdir / "media"),
                "JWT_SECRET": JWT_SECRET,
                "PASSWORD_TIME_COST": "1", "PASSWORD_MEMORY_KIB": "1024",
                "HANDLER_RETRY_DELAYS": "[0.2, 0.5, 1]", "OUTBOX_POLL_INTERVAL": "0.2",
                "RPC_TIMEOUT": "5", "HEALTH_TIMEOUT": "1", "ENVIRONMENT": "test",
                "WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_LOOPBACK": "true",
                "WEBHOOK_TIMEOUT": "2", "WEBHOOK_RETRY_DELAYS": "[0.2, 0.2, 0.2, 0.2]",
                "WEBHOOK_POLL_INTERVAL": "0.1",
                "RATE_LIMIT_KEY_PREFIX": f"test-{self.vhost}",
                "READ_CACHE_PREFIX": f"test-{self.vhost}-reads",
                **{f"RATE_LIMIT_{name}": ROOMY_BUDGET for name in RATE_LIMITS},
                **self.extra_env}

    def _through_proxy(self, url):
        if self.database is None:
            return url
        return make_url(url).set(port=self.database.port).render_as_string(hide_password=False)


def create_vhost(vhost):
    """`vhost`, with the services' broker users set up on it, and every
    permission for `guest` (tests' observer, benchmarks' own services)."""
    requests.put(f"{MANAGEMENT}/vhosts/{vhost}", auth=BROKER_AUTH, timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{vhost}/guest", auth=BROKER_AUTH, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    set_up_vhost(vhost)


def delete_vhost(vhost):
    requests.delete(f"{MANAGEMENT}/vhosts/{vhost}", auth=BROKER_AUTH, timeout=10)


def clear_read_cache(url, prefix):
    """Remove the read cache's keys under `prefix`, if their Redis is there."""
    try:
        cache = redis.Redis.from_url(url, socket_timeout=2)
        keys = list(cache.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            cache.delete(*keys)
    except redis.RedisError:  # a test stopped its Redis: nothing left to clear
        pass


def clear_rate_limits(storage, prefix):
    """Remove the counts under `prefix`, if their Redis is there to ask."""
    try:
        storage_from_string(storage, key_prefix=prefix, socket_timeout=2).reset()
    except Exception:  # a test stopped its Redis: nothing left to clear
        pass


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

