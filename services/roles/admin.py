"""Operator commands: grant or revoke a user's admin flag, or mark a
user's email verified.

    python -m services.roles.admin grant EMAIL
    python -m services.roles.admin revoke EMAIL
    python -m services.roles.admin verify EMAIL

`verify` is for support cases: a user whose verification mail cannot reach
them, whose address the operator has confirmed by other means. Once
verified, the email counts for the invites to it; verifying again changes
nothing.

It writes the roles database named by `DATABASE_URL` in
`services/roles/config.yml` (`ROLES_DATABASE_URL` overrides it), and
retires the gateway's cached answers about the user (`READ_CACHE_URL`). Inside
the system only an admin may change the flag (`roles.set_admin`), and
only a mailed link verifies an email (`roles.verify_email`).
"""
import argparse
import sys
from pathlib import Path

from sqlalchemy import func, update
from sqlalchemy.orm import sessionmaker

from contracts.roles.schemas import normalise_email
from services.roles.models import User
from services.roles.settings import RolesSettings
from shared.config import load_config
from shared.db import UnitOfWork, make_engine
from shared.metrics import DISCARDED
from shared.readcache import Versions, user_version
from shared.settings import validated

CONFIG = Path(__file__).with_name("config.yml")

# action -> what it sets on the user, and what it says when done
ACTIONS = {
    "grant": ({"is_admin": True}, "admin granted"),
    "revoke": ({"is_admin": False}, "admin revoked"),
    "verify": ({"email_verified_at": func.coalesce(User.email_verified_at, func.now())},
               "email verified"),
}


def set_admin_flag(database_url, email, is_admin, versions=None):
    """Set the flag of the user with this email; False if there is none."""
    return update_user(database_url, email, versions, is_admin=is_admin)


def update_user(database_url, email, versions=None, **values):
    """Set `values` on the user with this email, then bump the user's
    version in the read cache (`versions`, `shared.readcache`); False if
    there is no such user."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with UnitOfWork(sessionmaker(bind=engine)).transaction() as session:
            user_id = session.scalar(
                update(User).where(User.email == normalise_email(email)).values(**values)
                .returning(User.id)
            )
    finally:
        engine.dispose()
    if user_id is not None and versions is not None:
        versions.bump([user_version(user_id)])
    return user_id is not None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m services.roles.admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=tuple(ACTIONS))
    parser.add_argument("email")
    args = parser.parse_args(argv)
    values, done = ACTIONS[args.action]
    try:
        settings = validated(RolesSettings, load_config(CONFIG), "roles")
        versions = Versions.from_settings(settings, DISCARDED.read_cache_bump_failures)
        found = update_user(settings.DATABASE_URL, args.email, versions, **values)
    except ValueError as exc:
        parser.error(str(exc))
    if not found:
        print(f"no user {args.email}", file=sys.stderr)
        return 1
    print(f"{args.email}: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
