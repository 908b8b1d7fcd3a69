"""Helpers the benchmarks share: database reset, timing, tables, server
settings, the machine, percentiles, a running system's mail catcher, and
writing a section of docs/benchmarks.md."""
import math
import os
import platform
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

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


def machine():
    """One line describing the machine: cores, CPU model, memory, kernel, load."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory_kib = next(int(line.split()[1]) for line in
                          Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal"))
        memory = f"{memory_kib / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "unknown RAM"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} cores ({model}), {memory}, Linux {platform.release()},"
            f" Python {platform.python_version()}; load average {load} at the start"
            f" (the machine is shared with other test runs)")


def percentile(values, fraction):
    """The `fraction` percentile (0–1) of `values` by the nearest-rank
    definition: the smallest value with at least that fraction of the values
    at or below it, the ⌈fraction·n⌉-th of the n sorted values (always one of
    the values; p50 of 1..10 is 5, p99 of 1..100 is 99). Every benchmark and
    report uses this one."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"a fraction from 0 to 1, not {fraction}")
    ordered = sorted(values)
    rank = math.ceil(round(fraction * len(ordered), 9))  # 0.07 * 100 is 7.000000000000001
    return ordered[max(1, rank) - 1]


def mailbox_at(url):
    """The mail catcher (maildev) answering at `url`, one this process did
    not start (`make run`'s), read as `tests.support.mailbox.Mailbox` reads
    the one a `System` starts."""
    from tests.support.mailbox import Mailbox

    parts = urlsplit(url)
    mailbox = Mailbox(web_port=parts.port or 80)
    mailbox.api = f"{parts.scheme}://{parts.netloc}/api"
    return mailbox


def write_section(docs, title, section):
    """Put `section` (starting with `## {title}`) into the page `docs`,
    replacing the section of that title if there is one, else at the end."""
    old = docs.read_text() if docs.exists() else "# Benchmarks\n"
    section = section.rstrip("\n") + "\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = (pattern.sub(lambda _: section, old) if pattern.search(old)
           else old.rstrip("\n") + "\n\n" + section)
    docs.parent.mkdir(exist_ok=True)
    docs.write_text(new.rstrip("\n") + "\n")
