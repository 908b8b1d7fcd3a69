"""Create a service's own database if it is missing and migrate it to head.

    python -m shared.migrate services/events [services/roles ...]

The database URL is the service's `DATABASE_URL` from its `config.yml`
(environment variables apply). Each service directory holds `alembic.ini`
and `migrations/`; its `env.py` calls `run_migrations` with its metadata.
"""
import sys
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, engine_from_config, pool, text
from sqlalchemy.engine import make_url

from shared import tables
from shared.config import load_config
from shared.db import DATABASE_URL_KEY


def create_database_if_missing(url):
    url = make_url(url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()


def migrate(service_dir, url=None):
    service_dir = Path(service_dir)
    url = url or load_config(service_dir / "config.yml")[DATABASE_URL_KEY]
    create_database_if_missing(url)
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def run_migrations(metadata):
    """Body of every service's `migrations/env.py` (online mode only)."""
    connectable = engine_from_config(
        context.config.get_section(context.config.config_ini_section),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=[metadata, tables.metadata])
        with context.begin_transaction():
            context.run_migrations()


if __name__ == "__main__":
    for directory in sys.argv[1:]:
        migrate(directory)
        print(f"{directory}: database ready")
