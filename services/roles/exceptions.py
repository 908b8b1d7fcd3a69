"""The roles service's own errors, which never leave it (those that cross
RPC are in contracts.roles.errors)."""
from shared.errors import Unavailable


class RetryLater(Unavailable):
    """A message arrived before one it depends on; the handler retries it."""

    code = "retry_later"
