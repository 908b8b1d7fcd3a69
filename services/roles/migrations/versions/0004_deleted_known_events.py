"""roles: an index of the deleted events

"My events" (`members.list_my_events`) leaves out deleted events by an
anti-join against this small partial index, not by reading every known
event: its cost follows the user's roles and the deletions, not the number
of events. The user's roles are found through the unique key
(user_id, event_id, role), which starts with user_id.

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
    op.create_index("deleted_known_events", "known_events", ["id"],
                    postgresql_where=sa.text("deleted_at IS NOT NULL"))


def downgrade():
    op.drop_index("deleted_known_events", table_name="known_events")
