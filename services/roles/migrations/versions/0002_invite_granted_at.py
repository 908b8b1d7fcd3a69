"""roles: when an accepted invite's role was granted

An invite's acceptance is honoured once: a second `invite.accepted` for it,
under another message id, is a replay (services/roles/team.py).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("role_invites", sa.Column("granted_at", sa.DateTime(timezone=True),
                                            nullable=True))
    # invites accepted before this revision had their roles granted then
    op.execute("UPDATE role_invites SET granted_at = responded_at WHERE status = 'accepted'")


def downgrade():
    op.drop_column("role_invites", "granted_at")
