"""media: the garbage collector's runs

Each run of `python -m services.media.gc` (`make media-gc`, cron) leaves a
row, however it ended, which the media service counts in its metrics
(services/media/gc_runs.py): the collector has no `/metrics` of its own.

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
    op.create_table(
        "gc_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("blobs", sa.BigInteger(), nullable=False),
        sa.Column("stray_files", sa.BigInteger(), nullable=False),
        sa.Column("freed_bytes", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("outcome IN ('success', 'error')", name="known_outcome"),
    )


def downgrade():
    op.drop_table("gc_runs")
