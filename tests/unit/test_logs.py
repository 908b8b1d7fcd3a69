"""JSON log lines: one object per line, with the request id of the worker
that logged it."""
import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared.context import bound_request_id
from shared.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["events", "roles", "media"]


def record(message="invite %s accepted", args=(7,), level=logging.INFO, exc_info=None, **extra):
    record = logging.LogRecord("services.roles.invites", level, __file__, 1, message, args,
                               exc_info)
    record.__dict__.update(extra)
    return record


def formatted(record, service="roles"):
    line = JsonFormatter(service=service).format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_line_is_one_json_object_with_time_level_logger_message_and_service():
    line = formatted(record())
    assert line.keys() == {"time", "level", "logger", "message", "service"}
    assert line["level"] == "INFO"
    assert line["logger"] == "services.roles.invites"
    assert line["message"] == "invite 7 accepted"
    assert line["service"] == "roles"


def test_the_time_is_iso_8601_in_utc():
    entry = record()
    time = datetime.fromisoformat(formatted(entry)["time"])
    assert time.utcoffset() == timedelta(0)
    assert abs(time.timestamp() - entry.created) < 0.001


def test_a_line_logged_for_a_request_carries_its_id():
    with bound_request_id("r-1"):
        assert formatted(record())["request_id"] == "r-1"
    assert "request_id" not in formatted(record())


def test_a_record_given_a_request_id_carries_that_one():
    with bound_request_id("r-1"):
        assert formatted(record(request_id="r-2"))["request_id"] == "r-2"


def test_an_exception_comes_with_its_traceback():
    try:
        raise RuntimeError("the database is gone")
    except RuntimeError:
        entry = record("copy failed", (), logging.ERROR, sys.exc_info())
    line = formatted(entry)
    assert line["level"] == "ERROR"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("RuntimeError: the database is gone")


def test_no_password_of_a_url_reaches_a_line():
    failover = "amqp://events:first-secret@h1:5672//;amqp://events:second-secret@h2:5672//"
    try:
        raise ConnectionError(f"cannot reach {failover}")
    except ConnectionError:
        entry = record("Error connecting to broker at %s", (failover,), logging.WARNING,
                       sys.exc_info())
    line = json.dumps(formatted(entry))
    assert "secret" not in line
    assert "amqp://events:***@h1:5672//;amqp://events:***@h2:5672//" in line
    assert formatted(record("at %s", ("https://example.org/a?b=c@d",)))["message"] == (
        "at https://example.org/a?b=c@d")  # no password there: left as it is


def test_a_message_of_several_lines_stays_on_one_line():
    assert formatted(record("first\nsecond", ()))["message"] == "first\nsecond"


@pytest.fixture
def service_logs():
    """What each service's LOGGING config (as `nameko run` applies it)
    writes for an INFO line logged for request r-1, in a process of its own."""
    script = (
        "import logging, logging.config, sys\n"
        "from shared.config import load_config\n"
        "from shared.context import bound_request_id\n"
        "for service in sys.argv[1:]:\n"
        "    config = load_config(f'services/{service}/config.yml')\n"
        "    logging.config.dictConfig(config['LOGGING'])\n"
        "    with bound_request_id('r-1'):\n"
        "        logging.getLogger('probe').info('hello from %s', service)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", script, *SERVICES], cwd=ROOT,
                         env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stderr.splitlines()]


def test_every_service_logs_json_lines_naming_itself(service_logs):
    assert [(line["service"], line["message"], line["request_id"]) for line in service_logs] == [
        (service, f"hello from {service}", "r-1") for service in SERVICES]
