"""notifications: the mail of a webhook disabled

`sent_mails.kind` takes `webhook_disabled` too (`kinds.WEBHOOK_DISABLED`).

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KINDS = ("verify_email", "role_invite", "password_reset")


def upgrade():
    _kinds(KINDS + ("webhook_disabled",))


def downgrade():
    op.execute("DELETE FROM sent_mails WHERE kind = 'webhook_disabled'")
    _kinds(KINDS)


def _kinds(names):
    op.drop_constraint("known_kind", "sent_mails", type_="check")
    op.create_check_constraint("known_kind", "sent_mails", f"kind IN {names}")
