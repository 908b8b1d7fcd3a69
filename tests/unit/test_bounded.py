"""Heavy work in a bounded pool (`shared.bounded`): a few at once in native
threads at a low CPU priority, a few more waiting, the next refused at
once; and the settings of each pool leave workers for the rest."""
import os
import sys

import eventlet
import pytest

from contracts.media.errors import ImagesBusy
from contracts.roles.errors import PasswordsBusy
from services.media.settings import MediaSettings
from services.roles.settings import RolesSettings
from shared.bounded import NICENESS, BoundedPool
from shared.settings import InvalidSettings, validated

threading = eventlet.patcher.original("threading")  # the jobs run in native threads


class Jobs:
    """Jobs that block their native thread until `release`, counting how
    many run at once."""

    def __init__(self):
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.running = self.most = 0

    def job(self, value):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.gate.wait(10)
        with self.lock:
            self.running -= 1
        return value

    def release(self):
        self.gate.set()


def test_at_most_at_once_run_the_waiting_follow_and_one_more_is_refused_at_once():
    pool, jobs = BoundedPool(at_once=2, waiting=1, busy=PasswordsBusy), Jobs()
    calls = [eventlet.spawn(pool.run, jobs.job, n) for n in range(3)]
    eventlet.sleep(0.2)  # each call has its turn or its place by now
    with pytest.raises(PasswordsBusy, match="too many"):
        pool.run(jobs.job, "one too many")
    jobs.release()
    assert [call.wait() for call in calls] == [0, 1, 2]
    assert jobs.most == 2
    assert pool.run(jobs.job, "after") == "after"  # the places are free again


def test_a_failing_job_gives_its_place_back():
    pool = BoundedPool(at_once=1, waiting=0, busy=ImagesBusy)
    with pytest.raises(ZeroDivisionError):
        pool.run(lambda: 1 / 0)
    assert pool.run(lambda: "next") == "next"


@pytest.mark.parametrize("model, at_once, waiting", [
    (RolesSettings, "PASSWORD_HASHES_AT_ONCE", "PASSWORD_HASHES_WAITING"),
    (MediaSettings, "MEDIA_DECODES_AT_ONCE", "MEDIA_DECODES_WAITING"),
])
def test_a_pool_must_leave_workers_for_everything_else(model, at_once, waiting):
    assert validated(model, {"max_workers": 4, at_once: 1, waiting: 2})
    with pytest.raises(InvalidSettings, match=f"{at_once} \\+ {waiting} \\(4\\) must be below"):
        validated(model, {"max_workers": 4, at_once: 2, waiting: 2})


@pytest.mark.skipif(sys.platform != "linux", reason="a per-thread nice value is Linux's")
def test_a_job_runs_at_a_lower_cpu_priority_the_caller_keeps_its_own():
    own = os.getpriority(os.PRIO_PROCESS, 0)
    pool = BoundedPool(at_once=1, waiting=0, busy=ImagesBusy)
    assert pool.run(os.getpriority, os.PRIO_PROCESS, 0) == max(own, NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == own
