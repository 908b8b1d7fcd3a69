"""Make psycopg2 cooperative under eventlet.

psycopg2 is a C extension: eventlet's monkey patch does not reach it, so one
slow query would block every greenthread of the process. A wait callback
makes libpq yield to the eventlet hub while it waits for the socket.
"""
import psycopg2
from psycopg2 import extensions


def make_psycopg2_green():
    """Install the eventlet wait callback (idempotent)."""
    if extensions.get_wait_callback() is None:
        extensions.set_wait_callback(_eventlet_wait)


def _eventlet_wait(conn, timeout=-1):
    from eventlet.hubs import trampoline

    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        if state == extensions.POLL_READ:
            trampoline(conn.fileno(), read=True)
        elif state == extensions.POLL_WRITE:
            trampoline(conn.fileno(), write=True)
        else:
            raise psycopg2.OperationalError(f"bad poll state: {state!r}")
