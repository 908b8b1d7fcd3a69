"""Waiting, with a deadline, for what another worker commits."""
import time

import eventlet


def wait_for(check, timeout, interval=0.01):
    """Call `check()` until it returns a truthy value or `timeout` seconds
    have passed; return its last value. Sleeps greenly in between."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        eventlet.sleep(interval)
    return value
