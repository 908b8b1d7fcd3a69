"""One message, at most one mail: ask the roles service for the mail's
data (with a link token minted for this mail alone, if its link has one),
compose, send, and record the outcome in `sent_mails`, inside the
handler's transaction with the message's inbox row
(`shared.inbox.apply_once`): a redelivered message finds it and sends
nothing.

The token travels only in the roles service's RPC answer, which only this
service can read, and in the mail; it is never stored, logged or put into
a message. A lookup mints a fresh token each time, killing the one before,
so the mail server is reached first: while it is away, retries mint
nothing (and cost the roles service nothing). Should it fail between the
lookup and the mail, the retry asks again and mails the new link.

The limit of "at most once": the mail server has taken a mail, then the
database fails before the transaction commits; the retried message mails
again (with a fresh link: the first one is dead by then).
"""
import logging

from contracts.errors import EventNotFound
from contracts.roles.errors import InviteNotFound, MailNotDue, UserNotFound
from services.notifications.exceptions import MailRefused
from services.notifications.mails import compose
from services.notifications.models import SentMail
from shared.metrics import current

log = logging.getLogger(__name__)

# the roles service's ways of saying there is nothing to mail: the link is
# no longer due, or what it was for is gone (an invite withdrawn meanwhile,
# an event deleted)
NOTHING_DUE = (MailNotDue, InviteNotFound, UserNotFound, EventNotFound)


def mail_once(session, message, kind, lookup, recipient, mailer, settings):
    """Mail what `message` asks for: a `kind` mail with what `lookup()`
    (the roles service's) answers, to the address it answers (`recipient`,
    the message's, is recorded if none is due); record it in `session`.
    Answers the `sent_mails` id."""
    with mailer.connection() as smtp:
        try:
            answer = lookup()
        except NOTHING_DUE as exc:
            return _record(session, message, kind, "not_due", recipient, error=exc.detail)
        mail = compose(kind, answer, settings)
        to, subject = mail["To"].addresses[0].addr_spec, mail["Subject"]
        try:
            smtp.send(mail)
        except MailRefused as exc:
            return _record(session, message, kind, "refused", to, subject, str(exc))
        return _record(session, message, kind, "sent", to, subject)


def _record(session, message, kind, outcome, recipient, subject=None, error=None):
    row = SentMail(message_id=message.message_id, kind=kind.name, recipient=recipient,
                   subject=subject, outcome=outcome, error=error)
    session.add(row)
    session.flush()
    log.info("%s mail %s for message %s: %s", kind.name, row.id, message.message_id, outcome)
    current().mails.labels(kind.name, outcome).inc()
    return row.id
