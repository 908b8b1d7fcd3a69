"""media: events' visibility and deleted owners

`event_visibility` (from `event.visibility_changed`) decides how long
caches may keep an event's images; `deleted_owners` (from `event.deleted`
and `sponsor.deleted`) keeps a deleted event's or sponsor's media retired
(services/media/lifecycle.py).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "event_visibility",
        sa.Column("event_id", sa.BigInteger(), primary_key=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("visibility_version", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "deleted_owners",
        sa.Column("owner_kind", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.BigInteger(), primary_key=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
    )


def downgrade():
    op.drop_table("deleted_owners")
    op.drop_table("event_visibility")
