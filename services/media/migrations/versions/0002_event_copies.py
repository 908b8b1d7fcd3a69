"""media: the copies made, one per copied event

A copy is made once: a second `event.copied` for the same event, under
another message id, is a replay (services/media/copies.py).

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
    op.create_table(
        "event_copies",
        sa.Column("event_id", sa.BigInteger(), primary_key=True),
        sa.Column("source_event_id", sa.BigInteger(), nullable=False),
        sa.Column("copied_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
    )


def downgrade():
    op.drop_table("event_copies")
