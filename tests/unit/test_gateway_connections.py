"""Slow and greedy clients: a body is read before a worker is taken and
within `BODY_TIMEOUT`, a connection silent for `SOCKET_TIMEOUT` or idle
for `IDLE_TIMEOUT` is dropped, at most `MAX_CONNECTIONS` are open at once,
and an `accept()` that fails for want of file descriptors is waited out."""
import errno
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.unit.conftest import assert_problem

QUICK = {"BODY_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 5, "IDLE_TIMEOUT": 5}
SIGN_UP = (b"POST /v1/users HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n")


def connect(gateway):
    address = urlsplit(gateway.http.base_url)
    return socket.create_connection((address.hostname, address.port), timeout=5)


def answer_of(sock):
    """Everything the gateway sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except (TimeoutError, ConnectionResetError):
        return False


@pytest.mark.parametrize("gateway", [QUICK], indirect=True)
def test_a_body_slower_than_its_deadline_is_408_and_the_connection_closes(gateway):
    with connect(gateway) as sock:
        sock.sendall(SIGN_UP % 100 + b'{"email": ')
        started = time.monotonic()

        answer = answer_of(sock)

    assert answer.startswith(b"HTTP/1.1 408 ") and b'"code": "request_timeout"' in answer
    assert b"Connection: close" in answer and 0.4 < time.monotonic() - started < 3


@pytest.mark.parametrize("gateway", [{**QUICK, "BODY_TIMEOUT": 30, "SOCKET_TIMEOUT": 0.3}],
                         indirect=True)
def test_a_client_silent_mid_body_is_408(gateway):
    with connect(gateway) as sock:
        sock.sendall(SIGN_UP % 100 + b'{"email": ')

        assert answer_of(sock).startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("gateway", [{**QUICK, "max_workers": 2}], indirect=True)
def test_slow_bodies_take_no_worker(gateway):
    trickling = [connect(gateway) for _ in range(6)]
    for sock in trickling:
        sock.sendall(SIGN_UP % 100 + b"{")
    try:
        started = time.monotonic()
        response = gateway.http.get("/v1/openapi.json", timeout=2)
        took = time.monotonic() - started
    finally:
        for sock in trickling:
            sock.close()

    assert response.status_code == 200 and took < 0.4  # before any body's deadline


def test_a_body_over_the_limit_is_413_and_not_read(gateway):
    with connect(gateway) as sock:  # CONFIG's MAX_JSON_BYTES is 1024
        sock.sendall(SIGN_UP % 10**9)

        answer = answer_of(sock)

    assert answer.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in answer


@pytest.mark.parametrize("gateway", [{**QUICK, "IDLE_TIMEOUT": 0.3}], indirect=True)
def test_an_idle_connection_is_closed(gateway):
    with connect(gateway) as sock:
        assert closed_within(sock, 3)


@pytest.mark.parametrize("gateway", [{**QUICK, "MAX_CONNECTIONS": 2}], indirect=True)
def test_connections_over_the_cap_wait_for_a_free_one(gateway):
    held = [connect(gateway) for _ in range(2)]
    with connect(gateway) as waiting:  # the kernel takes it; the gateway does not yet
        waiting.sendall(b"GET /v1/openapi.json HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
        waiting.settimeout(0.5)
        with pytest.raises(TimeoutError):
            waiting.recv(1)

        held.pop().close()
        waiting.settimeout(5)

        assert answer_of(waiting).startswith(b"HTTP/1.1 200 ")
    for sock in held:
        sock.close()


def test_an_accept_failing_for_want_of_file_descriptors_is_waited_out(gateway):
    [server] = {route.server for route in gateway.container.entrypoints}
    server._sock = Exhausted(server._sock, failures=3)
    fresh = {"Connection": "close"}  # each request a new connection, a new accept

    first = gateway.http.get("/v1/openapi.json", headers=fresh, timeout=5)  # wakes the loop
    second = gateway.http.get("/v1/no/such", headers=fresh, timeout=5)

    assert first.status_code == 200 and server._sock.failed == 3
    assert_problem(second, 404, "not_found")


class Exhausted:
    """A listening socket whose next `failures` accepts fail with EMFILE."""

    def __init__(self, sock, failures):
        self.sock, self.failures, self.failed = sock, failures, 0

    def accept(self):
        if self.failed < self.failures:
            self.failed += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock.accept()

    def __getattr__(self, name):
        return getattr(self.sock, name)
