"""End to end: the four services as real processes, started by
`scripts/run.sh` exactly as `make run` starts them, on databases and a
RabbitMQ vhost of their own; tests drive them over HTTP only.

The system starts once for the e2e tests, and stops after them. Tests keep
out of each other's way by signing up users of their own (`new_user`) and
creating their own events.
"""
import itertools
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from shared.migrate import migrate
from tests.conftest import ROOT, TEST_DATABASE_URL, _empty
from tests.support.http import Api, ok
from tests.support.system import create_vhost, delete_vhost, free_port

SERVICES = ("events", "roles", "media", "gateway")
DATABASES = ("events", "roles", "media")
START_DEADLINE_SECONDS = 60
PASSWORD = "correct horse battery"
JWT_SECRET = "e2e-secret-" + "x" * 32

pytestmark = pytest.mark.e2e


@dataclass
class System:
    base_url: str
    env: dict
    log: Path

    def log_text(self):
        return self.log.read_text(errors="replace")


@dataclass
class Person:
    """A signed-up user: `api` is signed in as them."""

    id: int
    email: str
    token: str
    api: Api


@pytest.fixture(scope="package")
def system(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e")
    vhost = f"e2e-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    port = free_port()
    env = {**os.environ, **_database_env(), **{
        "AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}",
        "GATEWAY_ADDRESS": f"127.0.0.1:{port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "MEDIA_ROOT": str(workdir / "media"),
        "JWT_SECRET": JWT_SECRET,
        "PASSWORD_TIME_COST": "1", "PASSWORD_MEMORY_KIB": "1024",
        "HANDLER_RETRY_DELAYS": "[0.05, 0.1]", "OUTBOX_POLL_INTERVAL": "0.2",
    }}
    log = workdir / "system.log"
    with open(log, "w") as output:
        process = subprocess.Popen(["scripts/run.sh", *SERVICES], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    system = System(f"http://127.0.0.1:{port}", env, log)
    try:
        _await_ready(process, system)
        yield system
    finally:
        _stop(process)
        delete_vhost(vhost)


@pytest.fixture(scope="package")
def api(system):
    return Api(system.base_url)


@pytest.fixture(scope="package")
def new_user(api):
    """`new_user("ana")` → a Person, signed up and signed in."""
    numbers = itertools.count(1)
    run = uuid.uuid4().hex[:6]

    def new_user(name="user"):
        email = f"{name}.{run}.{next(numbers)}@example.org"
        user = ok(api.post("/v1/users", {"email": email, "password": PASSWORD,
                                         "name": name.title()}), 201)
        token = ok(api.post("/v1/auth/token", {"email": email, "password": PASSWORD}))
        return Person(user["id"], email, token["access_token"], api.as_user(token["access_token"]))
    return new_user


@pytest.fixture(scope="package")
def make_admin(system):
    """`make_admin(person)`: the operator command grants the admin flag."""
    def make_admin(person):
        subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "services.roles.admin", "grant",
                        person.email], cwd=ROOT, env=system.env, check=True,
                       capture_output=True)
        return person
    return make_admin


def _database_env():
    """A migrated, emptied database per service; the variables naming them."""
    env = {}
    for service in DATABASES:
        url = TEST_DATABASE_URL.format(service=f"{service}_e2e")
        migrate(ROOT / "services" / service, url)
        engine = create_engine(url)
        _empty(engine)
        engine.dispose()
        env[f"{service.upper()}_DATABASE_URL"] = url
    return env


def _await_ready(process, system):
    """Until run.sh says the gateway is ready (all services healthy)."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if "ready: the gateway answers" in system.log_text():
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"the system did not start:\n{system.log_text()[-5000:]}")


def _stop(process):
    """As Ctrl-C would: run.sh stops each service once, and waits."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        subprocess.run(["pkill", "-KILL", "-P", str(process.pid)], check=False)
        process.kill()
        process.wait()
