"""End to end: the five services as real `nameko run` processes (the
command `make run` runs for each), started by `tests.support.system.System`
on databases and a RabbitMQ vhost of their own and reaching RabbitMQ and
PostgreSQL directly; tests drive them over HTTP only.

The system starts once for the e2e tests, and stops after them. Tests keep
out of each other's way by signing up users of their own (`new_user`) and
creating their own events.
"""
import subprocess

import pytest

from tests.conftest import ROOT
from tests.support.http import sign_up
from tests.support.system import System


@pytest.fixture(scope="package")
def system(tmp_path_factory):
    with System("e2e", tmp_path_factory.mktemp("e2e"), proxies=False) as system:
        yield system


@pytest.fixture(scope="package")
def api(system):
    return system.api


@pytest.fixture(scope="package")
def mailbox(system):
    """The mail catcher the system's notifications service sends to."""
    return system.mailbox


@pytest.fixture(scope="package")
def new_user(api, mailbox):
    """`new_user("ana")` → a `User`, signed up and signed in;
    `new_user("ana", verified=True)` has followed the mailed link too."""
    return lambda name="user", verified=False: sign_up(
        api, name, mailbox=mailbox if verified else None)


@pytest.fixture(scope="package")
def make_admin(system):
    """`make_admin(person)`: the operator command grants the admin flag."""
    def make_admin(person):
        subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "services.roles.admin", "grant",
                        person.email], cwd=ROOT, env=system.env, check=True,
                       capture_output=True)
        return person
    return make_admin

