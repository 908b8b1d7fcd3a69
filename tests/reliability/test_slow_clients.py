"""Slow and greedy clients: 200 connections trickle their bodies to
`POST /v1/users` while 20 clients read health and an event; the readers
keep being answered, each trickler gets a 408 once `BODY_TIMEOUT` has
passed, and the gateway lives on. Then the gateway's file descriptors run
out: connections wait, the gateway does not die, and answers again once
descriptors are free."""
import os
import resource
import socket
import time

import eventlet
import requests

from bench.common import percentile
from tests.reliability.conftest import scaled
from tests.support.http import ok, sign_up
from tests.support.tap import wait_until

SYSTEM_ENV = {"BODY_TIMEOUT": "3", "SOCKET_TIMEOUT": "2", "IDLE_TIMEOUT": "5",
              "HEALTH_TIMEOUT": "5"}  # a busy machine's slow health() is not a 503
TRICKLERS = 200
READERS = 20
SECONDS = scaled(8, 30)
BASELINE_SECONDS = scaled(3, 10)
TRICKLE_INTERVAL = 0.5  # a byte every this often: never silent for SOCKET_TIMEOUT
P99_FLOOR_SECONDS = 2.5  # below BODY_TIMEOUT: no reader waits behind a slow body
SIGN_UP = (b"POST /v1/users HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
           b"Content-Length: 4096\r\n\r\n")


def test_slow_bodies_leave_health_and_reads_answering(system, report):
    owner = sign_up(system.api, "owner")
    event = ok(owner.api.post("/v1/events", {
        "name": "Slowloris", "starts_at": "2030-03-14T09:00:00+08:00",
        "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore"}), 201)
    stop = None
    trickled = {"408": 0, "other": []}

    def trickle():
        while time.monotonic() < stop:
            with socket.create_connection(("127.0.0.1", system.port), timeout=10) as sock:
                sock.sendall(SIGN_UP)
                answer = _trickled_until_answered(sock, stop)
            if answer.startswith(b"HTTP/1.1 408 "):
                trickled["408"] += 1
            elif answer:
                trickled["other"].append(answer[:40])

    def read(n):
        api = owner.session()
        answers = []
        while time.monotonic() < stop:
            path = "/v1/health" if n % 2 else f"/v1/events/{event['id']}"
            started = time.monotonic()
            try:
                status = api.get(path, timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            answers.append((status, time.monotonic() - started, path))
            eventlet.sleep(0.05)
        return answers

    def readers():
        return [answer for answers in eventlet.GreenPool(READERS).imap(read, range(READERS))
                for answer in answers]

    stop = time.monotonic() + BASELINE_SECONDS
    baseline = percentile([seconds for _, seconds, _ in readers()], 0.99)
    stop = time.monotonic() + SECONDS
    tricklers = [eventlet.spawn(trickle) for _ in range(TRICKLERS)]
    eventlet.sleep(1)  # every trickler connected and sending
    answers = readers()
    for thread in tricklers:
        thread.wait()

    statuses = [status for status, _, _ in answers]
    p99 = percentile([seconds for _, seconds, _ in answers], 0.99)
    bound = max(P99_FLOOR_SECONDS, 2 * baseline)  # the machine may be busy already
    answered = statuses.count(200)
    alive = system.processes["gateway"].poll() is None
    passed = (answered == len(answers) and p99 < bound and trickled["408"] > 0
              and not trickled["other"] and alive)
    report(scenario="slow clients", injected=f"{TRICKLERS} connections trickling bodies to "
           f"POST /v1/users for {SECONDS} s (a byte every {TRICKLE_INTERVAL} s)",
           requested=len(answers), completed=answered, lost=len(answers) - answered,
           duplicated=0, passed=passed, readers=READERS, p99_ms=round(p99 * 1000),
           p99_ms_without_them=round(baseline * 1000), slow_bodies_408=trickled["408"])

    assert answered == len(answers), [answer for answer in answers if answer[0] != 200]
    assert p99 < bound
    assert trickled["408"] >= TRICKLERS and not trickled["other"]
    assert alive
    system.await_healthy()


def test_the_gateway_outlives_running_out_of_file_descriptors(system, report):
    pid = system.pid("gateway")
    limit = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    spare = 10
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir(f"/proc/{pid}/fd")) + spare,
                                                   limit[1]))
    held = []
    try:
        for _ in range(3 * spare):  # more than it may open: accept() fails with EMFILE
            held.append(socket.create_connection(("127.0.0.1", system.port), timeout=10))
        refused = _within(lambda: "cannot accept a connection" in system.log_text("gateway"),
                          timeout=10)
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limit)
        for sock in held:
            sock.close()
    alive = system.processes["gateway"].poll() is None
    healthy = _within(lambda: requests.get(f"{system.base_url}/v1/health",
                                           timeout=5).status_code == 200, timeout=30)
    report(scenario="out of file descriptors", injected=f"the gateway's descriptor limit at "
           f"{spare} over its open ones, {3 * spare} connections opened", requested=1,
           completed=int(alive and healthy), lost=int(not (alive and healthy)), duplicated=0,
           passed=refused and alive and healthy)

    assert refused, system.log_text("gateway")[-2000:]
    assert alive and healthy


def _trickled_until_answered(sock, stop):
    """A byte every TRICKLE_INTERVAL until the gateway answers (what it
    answers), or until `stop` (b"")."""
    sock.settimeout(TRICKLE_INTERVAL)
    answer = b""
    while time.monotonic() < stop:
        try:
            sock.sendall(b" ")
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # closed under our feet after its answer
            return answer
        if not chunk:
            return answer
        answer += chunk
    return answer


def _within(predicate, timeout):
    try:
        return bool(wait_until(predicate, timeout=timeout, interval=0.1))
    except AssertionError:
        return False
