"""The mails the service sends. Each kind has its name (as `sent_mails`
records it), the path of the link it carries, and the data it is composed
from: the answer of a roles lookup (`contracts.roles.schemas`), which for
a link with a token mints the token for this one mail."""
from dataclasses import dataclass

from pydantic import BaseModel

from contracts.roles.schemas import InviteMail, Mail, OwnerMail


class WebhookDisabledMail(OwnerMail):
    """`roles.owner_mail`'s answer with the `webhook.disabled` message's
    fields."""

    event_id: int
    webhook_id: int
    origin: str
    failing_since: str


@dataclass(frozen=True)
class Kind:
    name: str
    # the mailed link is `{PUBLIC_BASE_URL}{link_path}`, its `{fields}` the
    # answer's, then `?token=…` if the answer has a token
    link_path: str
    answer: type[BaseModel]


VERIFY_EMAIL = Kind("verify_email", "/verify-email", Mail)  # roles.verification_mail
ROLE_INVITE = Kind("role_invite", "/role-invites/accept", InviteMail)  # roles.invite_mail
PASSWORD_RESET = Kind("password_reset", "/reset-password", Mail)  # roles.password_reset_mail
WEBHOOK_DISABLED = Kind("webhook_disabled", "/events/{event_id}/webhooks/{webhook_id}",
                        WebhookDisabledMail)  # roles.owner_mail, no token

KINDS = (VERIFY_EMAIL, ROLE_INVITE, PASSWORD_RESET, WEBHOOK_DISABLED)
