"""events: the media version each event's URL fields show

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
    op.add_column("events", sa.Column("media_version", sa.BigInteger(), server_default="0",
                                      nullable=False))


def downgrade():
    op.drop_column("events", "media_version")
