"""Reliability: faults injected into the running system (`System`: real
`nameko run` processes behind TCP proxies to RabbitMQ and PostgreSQL).

`make test` runs each scenario at a quick scale; `make reliability` runs
them at full scale (RELIABILITY_SCALE=full) and collects each scenario's
figures (RELIABILITY_RESULTS, a JSON-lines file) for docs/reliability.md.
"""
import json
import os

import pytest

from tests.support.system import System

FULL = os.environ.get("RELIABILITY_SCALE") == "full"
RESULTS = os.environ.get("RELIABILITY_RESULTS")


def scaled(quick, full):
    """The figure for this run's scale."""
    return full if FULL else quick


@pytest.fixture(scope="module")
def system(tmp_path_factory, request):
    """A system of the module's own, started once for its scenarios (with
    the module's `SYSTEM_ENV` settings, if it has any)."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    system = System(f"rel_{name}", tmp_path_factory.mktemp(name),
                    env=getattr(request.module, "SYSTEM_ENV", None)).start()
    yield system
    system.close()


@pytest.fixture
def report():
    """`report(scenario=…, injected=…, requested=…, completed=…, lost=…,
    duplicated=…, passed=…, **more)`: one row of docs/reliability.md."""
    def report(**row):
        if RESULTS:
            with open(RESULTS, "a") as results:
                results.write(json.dumps(row) + "\n")
    return report


def pytest_collection_modifyitems(items):
    """At full scale a scenario runs for minutes: lift the suite's timeout."""
    if FULL:
        for item in items:
            if item.path.parent.name == "reliability":
                item.add_marker(pytest.mark.timeout(900))
