"""Helpers the benchmarks share: database reset, timing, tables, server settings."""
import time

from sqlalchemy import text


def empty_database(engine):
    with engine.begin() as conn:
        tables = conn.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'")).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def vacuum_analyze(engine):
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def ms_since(start):
    return (time.perf_counter() - start) * 1000


def plain_table(header, rows):
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
                     for line in [header, *rows])


def markdown_table(header, rows):
    lines = [header, ["---:"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def postgres_settings(engine):
    with engine.connect() as conn:
        version, fsync, sync_commit = (conn.scalar(text(f"SHOW {name}")) for name in
                                       ("server_version", "fsync", "synchronous_commit"))
    return f"PostgreSQL {version} (fsync {fsync}, synchronous_commit {sync_commit})"
