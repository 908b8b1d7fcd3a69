"""The notifications service's own errors, which never leave it (its one
RPC method is `health`)."""
from shared.errors import Outage


class MailServerAway(Outage):
    """The mail server cannot be reached, hung up, took too long, or said
    "try later" (4xx): an outage, waited out by the handler however long it
    lasts (`shared.handlers`)."""

    code = "mail_server_away"


class MailRefused(Exception):
    """The mail server refused this mail for good (5xx to its recipient or
    to its content): no retry can send it."""
