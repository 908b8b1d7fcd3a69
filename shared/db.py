"""Per-worker unit of work on PostgreSQL.

`Database` is a nameko dependency: each worker (RPC call, event handler,
timer) gets its own `UnitOfWork`, and the entrypoint opens its one
transaction with::

    with self.db.transaction() as session:
        ...

The transaction commits when the block ends, rolls back if it raises, and the
session is closed either way; helpers receive the session and never commit.
An entrypoint makes its change in one transaction; one that then waits for
the change's effects (read-your-writes) reads them in a second, never nested.
Commit happens inside the entrypoint, before nameko sends the RPC reply or
acks the message, so a caller never sees an answer for uncommitted work.
Sessions expire their objects on commit and are closed afterwards: ORM
objects cannot outlive the worker, only plain data can.
"""
from contextlib import contextmanager

from nameko_sqlalchemy import Database as NamekoDatabase
from sqlalchemy import create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker

from shared.errors import Outage
from shared.green import make_psycopg2_green
from shared.metrics import metrics_of
from shared.readcache import Versions
from shared.settings import DatabaseSettings, ReadCacheSettings, settings_of

DATABASE_URL_KEY = "DATABASE_URL"


def make_engine(url, pool_size=10):
    """An engine of at most `pool_size` connections: a worker holds one at a
    time (transactions do not nest), so a service needs no more than its
    `max_workers`, and many services share one PostgreSQL's connections.
    No ping before each use: a connection found dead fails its transaction
    (an `Outage`: 503, or a handler's uncounted retry) and SQLAlchemy then
    replaces every pooled connection, so one failure per outage costs less
    than a round trip per transaction."""
    make_psycopg2_green()
    return create_engine(url, pool_size=pool_size, max_overflow=0)


class UnitOfWork:
    """One worker's access to the database: one transaction at a time."""

    def __init__(self, session_factory):
        self._session_factory = session_factory
        self._session = None

    @contextmanager
    def transaction(self):
        if self._session is not None:
            raise RuntimeError("a worker's transactions do not nest")
        session = self._session = self._session_factory()
        try:
            yield session
            session.commit()
        except DBAPIError as exc:
            session.rollback()
            if _lost_connection(exc):
                raise Outage("the database is unavailable") from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            self._session = None

    def close(self):
        if self._session is not None:
            self._session.close()


def _lost_connection(exc):
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


class Database(NamekoDatabase):
    """nameko-sqlalchemy's provider, configured by `DATABASE_URL` and
    `max_workers` (`DatabaseSettings`), handing each worker a `UnitOfWork`
    (closed in `worker_teardown`). In a service whose answers the gateway
    caches (`ReadCacheSettings`), each commit bumps the versions its
    transaction marked stale (`shared.readcache`)."""

    def __init__(self):
        super().__init__(declarative_base=None)

    def setup(self):
        settings = settings_of(self.container, DatabaseSettings)
        self.engine = make_engine(settings.DATABASE_URL, pool_size=settings.max_workers)
        self.Session = sessionmaker(bind=self.engine)
        metrics = metrics_of(self.container)
        if isinstance(settings, ReadCacheSettings):
            versions = Versions.from_settings(settings, metrics.read_cache_bump_failures)
            event.listen(self.Session, "after_commit", versions.after_commit)
        metrics.probe("db_connections_in_use", "database connections "
                      "checked out of the pool", self.engine.pool.checkedout)
        metrics.probe("db_connections_max", "the database pool's size", self.engine.pool.size)

    def get_dependency(self, worker_ctx):
        unit_of_work = self.dbs[worker_ctx] = UnitOfWork(self.Session)
        return unit_of_work
