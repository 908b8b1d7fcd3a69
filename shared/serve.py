"""Run one service as `nameko run` does, stopping within its grace period
whatever signals arrive.

    python -m shared.serve events

The first SIGTERM or SIGINT starts nameko's graceful stop (no new work
taken, the workers under way finish, connections close) and the process
exits 0 once it is done. A second signal, or `STOP_GRACE_SECONDS` passing
first, ends the process at once with status 1: whatever was under way is
unacknowledged, so the broker delivers it again (the inbox makes that
harmless) and PostgreSQL rolls its transactions back. (`nameko run` hangs
when a second SIGTERM arrives during the first stop.)
"""
import eventlet

eventlet.monkey_patch()  # before anything imports socket or threading, as `nameko run`

import errno  # noqa: E402
import logging.config  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from nameko.cli.run import import_service  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from shared.config import load_config  # noqa: E402
from shared.settings import ServiceSettings, validated  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopper:
    """The signal handler: a graceful stop first, a hard exit after."""

    def __init__(self, runner, grace):
        self.runner, self.grace, self.stopping = runner, grace, False

    def __call__(self, signum, frame):
        if self.stopping:
            hard_exit(f"{signal.Signals(signum).name} while stopping")
        self.stopping = True
        signal.signal(signal.SIGALRM, lambda *_: hard_exit(
            f"not stopped within STOP_GRACE_SECONDS ({self.grace:g} s)"))
        signal.setitimer(signal.ITIMER_REAL, self.grace)
        # a signal handler runs on the hub: the stop needs a green thread
        eventlet.spawn_n(self.runner.stop)


def hard_exit(why):
    """End the process now. Why is written straight to stderr by the
    unpatched `os.write`: a signal handler runs on the hub, which may not
    wait (a green write would), and must take no lock (logging's may be
    held by the code it interrupted)."""
    try:
        eventlet.patcher.original("os").write(2, f"stopping hard: {why}\n".encode())
    finally:
        os._exit(1)


def serve(service):
    config = load_config(ROOT / "services" / service / "config.yml")
    logging.config.dictConfig(config["LOGGING"])
    grace = validated(ServiceSettings, config, service).STOP_GRACE_SECONDS
    runner = ServiceRunner(config)
    for cls in import_service(f"services.{service}.service"):
        runner.add_service(cls)
    stopper = Stopper(runner, grace)
    for signum in STOP_SIGNALS:
        signal.signal(signum, stopper)
    runner.start()
    # a signal interrupts the main green thread's wait with EINTR: wait in
    # another, and go back to waiting on it (as `nameko run` does)
    waiting = eventlet.spawn(runner.wait)
    while True:
        try:
            return waiting.wait()
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (ROOT / "services" / sys.argv[1] / "service.py").exists():
        sys.exit(__doc__.split("\n\n")[1])
    serve(sys.argv[1])
