"""Operator command: grant or revoke a user's admin flag.

    python -m services.roles.admin grant EMAIL
    python -m services.roles.admin revoke EMAIL

It writes the roles database named by `DATABASE_URL` in
`services/roles/config.yml` (`ROLES_DATABASE_URL` overrides it). Inside
the system only an admin may change the flag (`roles.set_admin`).
"""
import argparse
import sys
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from contracts.roles.schemas import normalise_email
from services.roles.models import User
from shared.config import load_config
from shared.db import DATABASE_URL_KEY, UnitOfWork, make_engine

CONFIG = Path(__file__).with_name("config.yml")


def set_admin_flag(database_url, email, is_admin):
    """Set the flag of the user with this email; False if there is none."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with UnitOfWork(sessionmaker(bind=engine)).transaction() as session:
            changed = session.execute(
                update(User).where(User.email == normalise_email(email)).values(is_admin=is_admin)
            )
            return changed.rowcount == 1
    finally:
        engine.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m services.roles.admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("grant", "revoke"))
    parser.add_argument("email")
    args = parser.parse_args(argv)
    try:
        found = set_admin_flag(load_config(CONFIG)[DATABASE_URL_KEY], args.email,
                               args.action == "grant")
    except ValueError as exc:
        parser.error(str(exc))
    if not found:
        print(f"no user {args.email}", file=sys.stderr)
        return 1
    print(f"{args.email}: admin {'granted' if args.action == 'grant' else 'revoked'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
