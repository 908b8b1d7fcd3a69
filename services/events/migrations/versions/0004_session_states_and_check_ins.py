"""events: sessions' states as the review knows them (`pending` is now
`submitted`, `canceled` is `withdrawn`); attendees' check-in
(`checked_in`, `checked_in_at`)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE sessions SET state = 'submitted' WHERE state = 'pending'")
    op.execute("UPDATE sessions SET state = 'withdrawn' WHERE state = 'canceled'")
    op.add_column("attendees", sa.Column("checked_in", sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.add_column("attendees", sa.Column("checked_in_at", sa.DateTime(timezone=True)))


def downgrade():
    op.drop_column("attendees", "checked_in_at")
    op.drop_column("attendees", "checked_in")
    op.execute("UPDATE sessions SET state = 'pending' WHERE state = 'submitted'")
