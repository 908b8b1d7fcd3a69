"""pytest plugin (`-p tests.green`): the test process runs green, as
`nameko run` does: eventlet's monkey patch before anything else is imported,
and psycopg2 made cooperative by the services' own `Database` setup.

It also keeps pytest-timeout's timer. Once eventlet patches `threading`,
pytest-timeout no longer sees the main thread and falls back to a timer that
is itself a green thread, which a hung test can keep from ever firing, and
which prints the stacks of real threads only. A watchdog on a real thread,
which no greenlet can block, ends the run when a test phase overruns its
timeout, with every greenlet's stack and, last (a CI log's tail), the test.
"""
import faulthandler
import gc
import os
import time
import traceback

import eventlet
import greenlet
import pytest

_real_stderr = os.dup(2)  # before pytest captures it: the watchdog's voice
_running = None  # (test id, timeout, monotonic deadline) of the phase under way
_failures = []  # reports of the failures so far: a killed run never prints them

# now, as this plugin is imported (`-p`, before the plugins installed packages
# register, some of which import `ssl`): `ssl` patched after its import makes
# every TLS context recurse (boto3 makes one for any endpoint)
eventlet.monkey_patch()


def pytest_load_initial_conftests(early_config, parser, args):
    threading = eventlet.patcher.original("threading")
    threading.Thread(target=_watch, name="test-watchdog", daemon=True).start()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    global _running
    _running = (item.nodeid, settings.timeout, time.monotonic() + settings.timeout)
    return True  # pytest-timeout sets no timer of its own


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item):
    global _running
    _running = None
    return True


def pytest_runtest_logreport(report):
    if report.failed:
        _failures.append(f"{report.nodeid} ({report.when}):\n{report.longreprtext}")


def _watch():
    sleep = eventlet.patcher.original("time").sleep
    while (running := _running) is None or time.monotonic() < running[2]:
        sleep(1)
    try:
        _report_hang(*running[:2])
    finally:
        os._exit(3)


def _report_hang(test, timeout):
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
        out.write(f"\n*** hung: {test}, past its {timeout:g} s timeout\n")
