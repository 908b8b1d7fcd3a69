"""roles: verified emails, revocable sign-ins, mailed link tokens

An email counts for an invite only once verified; a bearer token is good
while its session is on; verification and reset links carry single-use
tokens kept hashed. Invites keep the event's name, for the invitee.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade():
    for column in ("email_verified_at", "verification_requested_at",
                   "password_reset_requested_at"):
        op.add_column("users", sa.Column(column, WHEN, nullable=True))
    op.add_column("role_invites", sa.Column("event_name", sa.String(255), nullable=True))
    op.create_index("role_invites_by_email", "role_invites", ["email"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", WHEN, server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "link_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", WHEN, server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.CheckConstraint("purpose IN ('verify_email', 'password_reset')",
                           name="known_purpose"),
    )
    op.create_index("link_tokens_by_user", "link_tokens", ["user_id", "purpose"])


def downgrade():
    op.drop_table("link_tokens")
    op.drop_table("sessions")
    op.drop_index("role_invites_by_email", "role_invites")
    op.drop_column("role_invites", "event_name")
    for column in ("password_reset_requested_at", "verification_requested_at",
                   "email_verified_at"):
        op.drop_column("users", column)
