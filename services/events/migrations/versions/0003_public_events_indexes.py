"""events: indexes of the published public live events (list_public_events):
by starts_at, id; and by the trigrams of their names (pg_trgm), for `q`

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PUBLIC_EVENTS = sa.text("state = 'published' AND privacy = 'public' AND deleted_at IS NULL")


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_events_public", "events", ["starts_at", "id"],
                    postgresql_where=PUBLIC_EVENTS)
    op.create_index("ix_events_public_name", "events", ["name"], postgresql_using="gin",
                    postgresql_ops={"name": "gin_trgm_ops"}, postgresql_where=PUBLIC_EVENTS)


def downgrade():
    op.drop_index("ix_events_public_name", table_name="events")
    op.drop_index("ix_events_public", table_name="events")
