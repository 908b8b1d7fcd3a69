"""The notifications service's table: the mails it sent, or decided not to
send, one row per message it handled: what kind, to whom, when, with which
outcome. Never a mail's body, its link or the link's token."""
from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, String, Text, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.notifications.kinds import KINDS

KIND_NAMES = tuple(kind.name for kind in KINDS)
# sent: the mail server took it; not_due: the roles service said no mail was
# due (nothing sent); refused: the mail server refused it for good
OUTCOMES = ("sent", "not_due", "refused")


class Base(DeclarativeBase):
    pass


class SentMail(Base):
    __tablename__ = "sent_mails"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[UUID] = mapped_column(Uuid, unique=True)  # the message that asked
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(320))  # unknown if nothing was due
    subject: Mapped[str | None] = mapped_column(String(998))  # none if nothing was composed
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)  # why nothing was due, or the refusal
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"kind IN {KIND_NAMES}", name="known_kind"),
        CheckConstraint(f"outcome IN {OUTCOMES}", name="known_outcome"),
    )
