"""events: the number of each event's last visibility change

`event.visibility_changed` carries it, so that the media service keeps the
newest (services/events/events.py).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("events", sa.Column("visibility_version", sa.BigInteger(), server_default="0",
                                      nullable=False))


def downgrade():
    op.drop_column("events", "visibility_version")
