"""The notifications service: mails people the links the roles service
announces, and an event's owner what needs their attention. Each message
below is turned into one mail at most (`mailing`): the roles service is
asked for the mail's data and, for a link with a token, a freshly minted
token (an answer only this service can read), the mail is composed
(`mails`) and sent through the SMTP server of the settings (`mailer`), and
what was sent, to whom, when and how it went is recorded in `sent_mails`,
never the link or its token.

- `user.registered`, `email_verification.requested` → a link to verify
  the email (`roles.verification_mail`);
- `invite.created`, `invite.resent` → the invitation, with its accept link
  (`roles.invite_mail`);
- `password_reset.requested` → a link to reset the password
  (`roles.password_reset_mail`);
- `webhook.disabled` (the webhooks service's) → the event's owner is told
  which endpoint was disabled and how to turn it on again, a plain link to
  the webhook, no token (`roles.owner_mail`).

No mail is due (`MailNotDue`: the invite is closed, the email verified, the
reset used or lapsed; or the invite or the event is gone): nothing is sent
and the outcome `not_due` recorded. The mail server away: the message is retried
until it is back (`MailServerAway`, an outage). It refuses the mail for
good: the outcome `refused`, with its answer. Its RPC face is
`contracts.notifications.rpc`: its health.
"""
from sqlalchemy import text

from contracts.roles.messages import (
    InviteCreated,
    InviteResent,
    PasswordResetRequested,
    UserRegistered,
    VerificationRequested,
)
from contracts.webhooks.messages import WebhookDisabled
from services.notifications import mailing
from services.notifications.kinds import (
    PASSWORD_RESET,
    ROLE_INVITE,
    VERIFY_EMAIL,
    WEBHOOK_DISABLED,
)
from services.notifications.mailer import Mailer
from services.notifications.settings import NotificationsSettings
from shared.context import RequestContext
from shared.db import Database
from shared.handlers import consume
from shared.inbox import apply_once
from shared.metrics import Metrics
from shared.rpc import Rpc, rpc
from shared.settings import Settings
from shared.tracing import Tracing


class NotificationsService:
    name = "notifications"

    db = Database()
    roles = Rpc("roles")
    mailer = Mailer()
    request_context = RequestContext()
    tracing = Tracing()
    metrics = Metrics()
    settings: NotificationsSettings = Settings(NotificationsSettings)

    @consume(UserRegistered)
    def on_user_registered(self, message):
        self._mail_once(message, VERIFY_EMAIL, message.email,
                        lambda: self.roles.verification_mail(message.user_id))

    @consume(VerificationRequested)
    def on_verification_requested(self, message):
        self._mail_once(message, VERIFY_EMAIL, message.email,
                        lambda: self.roles.verification_mail(message.user_id))

    @consume(InviteCreated)
    def on_invite_created(self, message):
        self._mail_once(message, ROLE_INVITE, message.email,
                        lambda: self.roles.invite_mail(message.invite_id))

    @consume(InviteResent)
    def on_invite_resent(self, message):
        self._mail_once(message, ROLE_INVITE, message.email,
                        lambda: self.roles.invite_mail(message.invite_id))

    @consume(PasswordResetRequested)
    def on_password_reset_requested(self, message):
        self._mail_once(message, PASSWORD_RESET, None,
                        lambda: self.roles.password_reset_mail(message.user_id))

    @consume(WebhookDisabled)
    def on_webhook_disabled(self, message):
        self._mail_once(message, WEBHOOK_DISABLED, None, lambda: {
            **self.roles.owner_mail(message.event_id),
            **message.model_dump(mode="json", include={
                "event_id", "webhook_id", "origin", "failing_since"})})

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "database": "ok"}

    def _mail_once(self, message, kind, recipient, lookup):
        """The `kind` mail `message` asks for, once: `lookup()` asks the
        roles service for its data and token (`mailing.mail_once`)."""
        apply_once(self.db, self.name, message, lambda session, message: mailing.mail_once(
            session, message, kind, lookup, recipient, self.mailer, self.settings))
