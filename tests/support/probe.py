"""A minimal service on the project's `Database`, for tests of the unit of
work and of green psycopg2 (in a test container or under `nameko run`)."""
import time

from nameko.rpc import rpc
from sqlalchemy import text

from shared.db import Database


class Probe:
    name = "probe"
    db = Database()

    @rpc
    def slow_query(self, seconds):
        """(start, end) of a `pg_sleep`, on this process's monotonic clock."""
        with self.db.transaction() as session:
            started = time.monotonic()
            session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
            return started, time.monotonic()

    @rpc
    def write(self, key, fail=False):
        with self.db.transaction() as session:
            session.execute(text("INSERT INTO inbox (message_id, consumer) "
                                 "VALUES (gen_random_uuid(), :key)"), {"key": key})
            if fail:
                raise RuntimeError("the worker fails after writing")

    @rpc
    def nested_transactions(self):
        with self.db.transaction(), self.db.transaction():
            pass

    @rpc
    def write_then_read(self, key):
        """Commit a row, then read it back in a second transaction."""
        with self.db.transaction() as session:
            session.execute(text("INSERT INTO inbox (message_id, consumer) "
                                 "VALUES (gen_random_uuid(), :key)"), {"key": key})
        with self.db.transaction() as session:
            return session.scalar(text("SELECT count(*) FROM inbox WHERE consumer = :key"),
                                  {"key": key})
