"""Rate limits: how often a client may sign in, sign up, have a mail sent,
write, or invite. Counted in Redis (the `limits` library, moving windows),
so every gateway process shares each count; budgets are settings.

Over a limit: 429 `rate_limited`, with `Retry-After` and the `RateLimit-*`
fields. Redis away (or slower than `RATE_LIMIT_TIMEOUT`): the limits that
guard against abuse – sign-in, sign-up, mails, invites – fail closed, a 503
`rate_limits_unavailable` with `Retry-After`, so a password can never be
tried without limit; a signed-in user's write is let through and logged,
since its author is known and the counter's outage should not become the
API's. Reads are never counted: they never wait for Redis.

A sign-in counts against its email and its client's address, right
password or wrong: a flood of sign-ins is held back before it reaches the
password hashing. Emails are kept in Redis as digests, not as written.
"""
import hashlib
import logging
import math
import time

from limits import parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from nameko.extensions import DependencyProvider

from services.gateway.clients import client_address
from services.gateway.exceptions import RateLimited, RateLimitsUnavailable
from services.gateway.settings import GatewaySettings
from shared.metrics import metrics_of
from shared.settings import settings_of

log = logging.getLogger(__name__)

# limit -> (its setting, what the 429 says is over)
BUDGETS = {
    "sign_in_account": ("RATE_LIMIT_SIGN_IN_ACCOUNT", "too many sign-ins for this email"),
    "sign_in_address": ("RATE_LIMIT_SIGN_IN_ADDRESS", "too many sign-ins from your address"),
    "sign_up_address": ("RATE_LIMIT_SIGN_UP_ADDRESS", "too many sign-ups from your address"),
    "mail": ("RATE_LIMIT_MAIL", "too many mails asked for this email"),
    "write": ("RATE_LIMIT_WRITE", "too many changes"),
    "invite": ("RATE_LIMIT_INVITE", "too many invites for this event"),
}


class Limiter:
    """The gateway's limits, counted by `strategy` (a `limits` rate limiter)."""

    def __init__(self, strategy, budgets, trusted_proxies=(), refusals=None):
        self.strategy = strategy
        self.refusals = refusals  # shared.metrics: a counter by limit
        self.budgets = {name: parse(budget) for name, budget in budgets.items()}
        self.trusted_proxies = trusted_proxies
        storage = strategy.storage
        self.outages = (StorageError, *_as_tuple(storage.base_exceptions))

    @classmethod
    def from_settings(cls, settings, refusals=None):
        storage = storage_from_string(
            settings.RATE_LIMIT_STORAGE, key_prefix=settings.RATE_LIMIT_KEY_PREFIX,
            wrap_exceptions=True, socket_timeout=settings.RATE_LIMIT_TIMEOUT,
            socket_connect_timeout=settings.RATE_LIMIT_TIMEOUT)
        budgets = {name: getattr(settings, key) for name, (key, _) in BUDGETS.items()}
        return cls(MovingWindowRateLimiter(storage), budgets, settings.TRUSTED_PROXIES, refusals)

    def sign_in(self, request, email):
        self._hit("sign_in_address", self.address(request))
        self._hit("sign_in_account", _digest(email))

    def sign_up(self, request):
        self._hit("sign_up_address", self.address(request))

    def mail(self, recipient):
        """A mail to `recipient`: an email, or a user id (their one email)."""
        self._hit("mail", _digest(str(recipient)))

    def write(self, user_id):
        self._hit("write", str(user_id), fail_open=True)

    def invite(self, event_id):
        self._hit("invite", str(event_id))

    def address(self, request):
        return client_address(request.environ, self.trusted_proxies)

    def _hit(self, name, who, fail_open=False):
        limit = self.budgets[name]
        try:
            if self.strategy.hit(limit, name, who):
                return
            reset = self.strategy.get_window_stats(limit, name, who).reset_time
        except self.outages as exc:
            if fail_open:
                log.warning("rate limit %s not counted: its storage failed (%r)", name, exc)
                return
            raise RateLimitsUnavailable("the rate limits cannot be counted just now") from None
        wait = max(1, math.ceil(reset - time.time()))
        if self.refusals is not None:
            self.refusals.labels(name).inc()
        raise RateLimited(f"{BUDGETS[name][1]}: try again in {wait} s", limit.amount, wait)


class RateLimits(DependencyProvider):
    """The `Limiter` of the gateway's settings; no connection is made until
    a limited route counts."""

    def setup(self):
        self.limiter = Limiter.from_settings(settings_of(self.container, GatewaySettings),
                                             metrics_of(self.container).rate_limited)

    def get_dependency(self, worker_ctx):
        return self.limiter


def _digest(text):
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()[:32]


def _as_tuple(exceptions):
    return exceptions if isinstance(exceptions, tuple) else (exceptions,)
