"""The mails the service sends. Each kind has its name (as `sent_mails`
records it), the path of the link it carries, and the answer of the roles
lookup that mints the link's token for this one mail
(`contracts.roles.schemas`)."""
from dataclasses import dataclass

from contracts.roles.schemas import InviteMail, Mail


@dataclass(frozen=True)
class Kind:
    name: str
    link_path: str  # the mailed link is `{PUBLIC_BASE_URL}{link_path}?token=…`
    answer: type[Mail]


VERIFY_EMAIL = Kind("verify_email", "/verify-email", Mail)  # roles.verification_mail
ROLE_INVITE = Kind("role_invite", "/role-invites/accept", InviteMail)  # roles.invite_mail
PASSWORD_RESET = Kind("password_reset", "/reset-password", Mail)  # roles.password_reset_mail

KINDS = (VERIFY_EMAIL, ROLE_INVITE, PASSWORD_RESET)
