"""pytest plugin (`-p tests.green`): the test process runs green, as
`nameko run` does: eventlet's monkey patch before anything else is imported,
and psycopg2 made cooperative by the services' own `Database` setup.

It also keeps a watchdog. Once eventlet patches `threading`, pytest-timeout
no longer sees the main thread and falls back to a timer that is itself a
green thread, which a hung test can keep from ever firing: one hang then
hangs the whole run. A real thread, which no greenlet can block, ends the
process with every greenlet's stack once a test overruns its timeout well.
"""
import faulthandler
import gc
import os
import time
import traceback

import eventlet
import greenlet
import pytest

GRACE = 60  # seconds past twice the test's timeout (setup and call each get one)

_real_stderr = os.dup(2)  # before pytest captures it: the watchdog's voice
_overdue_at = None  # monotonic deadline of the test under way
_failures = []  # reports of the failures so far: a killed run never prints them

# now, as this plugin is imported (`-p`, before the plugins installed packages
# register, some of which import `ssl`): `ssl` patched after its import makes
# every TLS context recurse (boto3 makes one for any endpoint)
eventlet.monkey_patch()


def pytest_load_initial_conftests(early_config, parser, args):
    threading = eventlet.patcher.original("threading")
    threading.Thread(target=_watch, name="test-watchdog", daemon=True).start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _overdue_at
    _overdue_at = time.monotonic() + 2 * _timeout(item) + GRACE
    yield
    _overdue_at = None


def pytest_runtest_logreport(report):
    if report.failed:
        _failures.append(f"{report.nodeid} ({report.when}):\n{report.longreprtext}")


def _timeout(item):
    marker = item.get_closest_marker("timeout")
    if marker and marker.args:
        return float(marker.args[0])
    return float(item.config.getoption("timeout", None) or 120)


def _watch():
    sleep = eventlet.patcher.original("time").sleep
    while _overdue_at is None or time.monotonic() < _overdue_at:
        sleep(1)
    try:
        _report_hang()
    finally:
        os._exit(3)


def _report_hang():
    with os.fdopen(_real_stderr, "w") as out:
        for failure in _failures:
            out.write(f"\n*** failed: {failure}\n")
        out.write("\n*** a test hung past its timeout; the stacks of every greenlet:\n")
        for obj in gc.get_objects():
            if isinstance(obj, greenlet.greenlet) and obj.gr_frame is not None:
                try:
                    stack = "".join(traceback.format_stack(obj.gr_frame))
                except Exception as exc:  # a frame may go while we read it
                    stack = f"(unreadable: {exc!r})\n"
                out.write(f"\n--- {obj!r}\n{stack}")
        out.flush()
        faulthandler.dump_traceback(out, all_threads=True)
