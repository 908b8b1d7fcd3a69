"""Waiting for a PostgreSQL `NOTIFY` without holding the event loop: the
outbox relay and the webhooks' delivery loop each sleep on one until there
is work, or until their fallback poll.

    listener = Listener(engine, "outbox", poll_interval=1.0)
    listener.wait()   # listens first if it is not listening yet
    listener.close()  # after a failure, or at stop: the next wait listens anew
"""
import eventlet
from eventlet.hubs import trampoline


class Listener:
    def __init__(self, engine, channel, poll_interval):
        self.engine, self.channel, self.poll_interval = engine, channel, poll_interval
        self._connection = None

    def listen(self):
        """`LISTEN` on a connection of its own, unless it listens already."""
        if self._connection is None:
            connection = self.engine.raw_connection()
            connection.driver_connection.autocommit = True
            connection.cursor().execute(f"LISTEN {self.channel}")
            self._connection = connection

    def wait(self):
        """Until a notification arrives (those pending count) or
        `poll_interval` seconds pass."""
        self.listen()
        raw = self._connection.driver_connection
        if not raw.notifies:
            try:
                trampoline(raw.fileno(), read=True, timeout=self.poll_interval)
            except eventlet.timeout.Timeout:
                return
            raw.poll()
        raw.notifies.clear()

    def close(self):
        if self._connection is not None:
            try:
                self._connection.invalidate()
            except Exception:  # it is dropped either way
                pass
            self._connection = None
