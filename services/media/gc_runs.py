"""The garbage collector's runs as metrics. The collector is a command
(`make media-gc`, from cron), with no `/metrics` of its own and gone before
any scrape: each run leaves a row in `gc_runs` however it ended
(`record`), and the media service counts the rows when scraped (`expose`),
so the counts outlive the run and a restart of the service alike."""
from sqlalchemy import func, insert, select

from services.media.models import GC_OUTCOMES, GcRun

REMOVED = ("records", "blobs", "stray_files")


def record(engine, started_at, outcome, collected):
    """Leave the run's row: `outcome` (`GC_OUTCOMES`) and what it removed
    (a `gc.Collected`)."""
    with engine.begin() as conn:
        conn.execute(insert(GcRun).values(
            started_at=started_at, outcome=outcome, records=collected.records,
            blobs=collected.blobs, stray_files=collected.stray_files,
            freed_bytes=collected.freed_bytes))


def runs(engine):
    """{(outcome,): runs} over every run, each outcome of `GC_OUTCOMES`."""
    with engine.connect() as conn:
        found = dict(conn.execute(select(GcRun.outcome, func.count()).group_by(GcRun.outcome))
                     .all())
    return {(outcome,): found.get(outcome, 0) for outcome in GC_OUTCOMES}


def removed(engine):
    """{(what,): how many} every run removed, each of `REMOVED`."""
    with engine.connect() as conn:
        counts = conn.execute(select(*(_sum(what) for what in REMOVED))).one()
    return {(what,): count for what, count in zip(REMOVED, counts, strict=True)}


def freed_bytes(engine):
    with engine.connect() as conn:
        return conn.scalar(select(_sum("freed_bytes")))


def _sum(column):
    return func.coalesce(func.sum(getattr(GcRun, column)), 0)


def expose(metrics, engine):
    """The runs' counters among `metrics`' (a `ServiceMetrics`), read from `engine`."""
    metrics.probe("media_gc_runs", "garbage collections run (`make media-gc`), by outcome "
                  "(success, error)", lambda: runs(engine), labels=("outcome",), counter=True)
    metrics.probe("media_gc_removed", "what garbage collections removed: retired records, "
                  "unreferenced blobs, stray files", lambda: removed(engine), labels=("what",),
                  counter=True)
    metrics.probe("media_gc_freed_bytes", "bytes of the blobs garbage collections removed",
                  lambda: freed_bytes(engine), counter=True)
