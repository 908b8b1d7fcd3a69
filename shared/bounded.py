"""Heavy work (password hashing, image decoding) in native threads, bounded
so that it cannot take every worker of its service, nor the CPU.

A nameko service's workers serve all its entrypoints from one queue: a
worker waiting for its turn at heavy work is one fewer for every other
method. `BoundedPool(at_once, waiting, busy)` runs at most `at_once` jobs
at a time in eventlet's thread pool (off the event loop: the C code
releases the GIL), lets at most `waiting` more callers wait for a turn,
and refuses the next at once with `busy` (an `Unavailable`: 503 and
`Retry-After` at the gateway). So heavy work holds at most `at_once +
waiting` workers, and `leaves_workers` checks that some are left.

A job's thread runs at nice `NICENESS` (on Linux, where the nice value is
per thread, and threads it starts, such as argon2's lanes, inherit it):
when the CPU is short, the event loops answering everything else, and the
other processes of the machine, come first. The pool's threads keep that
value for later jobs, which in these services are file writes at most.
"""
import os
import sys

from eventlet import tpool
from eventlet.semaphore import Semaphore

NICENESS = 5
BUSY = "too many requests of this kind at once; try again shortly"  # the refusal's detail


class BoundedPool:
    def __init__(self, at_once, waiting, busy):
        self._running = Semaphore(at_once)
        self._admitted = Semaphore(at_once + waiting)
        self._busy = busy

    def run(self, function, *args, **kwargs):
        """`function(*args, **kwargs)` in a native thread, once it has a
        turn; `busy` at once if too many callers wait already."""
        if not self._admitted.acquire(blocking=False):
            raise self._busy(BUSY)
        try:
            with self._running:
                return tpool.execute(_yielding, function, *args, **kwargs)
        finally:
            self._admitted.release()


def leaves_workers(settings, at_once, waiting):
    """`settings`, once its `at_once + waiting` (names of settings) leave at
    least one of its `max_workers` for everything else; else ValueError."""
    held = getattr(settings, at_once) + getattr(settings, waiting)
    if held >= settings.max_workers:
        raise ValueError(f"{at_once} + {waiting} ({held}) must be below max_workers"
                         f" ({settings.max_workers}), or nothing is left for the other work")
    return settings


def _yielding(function, *args, **kwargs):
    if sys.platform == "linux":  # elsewhere the value is the whole process's
        os.setpriority(os.PRIO_PROCESS, 0, NICENESS)  # 0: this thread
    return function(*args, **kwargs)
