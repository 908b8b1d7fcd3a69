"""Permission answers the gateway was given, kept for a moment.

Only a "yes" is kept, for `PERMISSION_CACHE_SECONDS`: a role granted
shows at once, since a "no" is always asked again, and a role taken away
(a member removed or demoted) is honoured by the gateway within that time,
and at once by the services, which check every change themselves. The
default, 0, keeps none, so a removal holds at the member's next request on
every gateway process; above 0 a read of an event or its children is what
the moment of grace can reach.
"""
import time

from nameko.extensions import DependencyProvider

from services.gateway.settings import GatewaySettings
from shared.metrics import metrics_of
from shared.settings import settings_of

MAX_ENTRIES = 10_000  # beyond this, expired answers are swept


class Grants(DependencyProvider):
    def setup(self):
        self.ttl = settings_of(self.container, GatewaySettings).PERMISSION_CACHE_SECONDS
        self.granted = {}  # (user id, permission, event id) -> monotonic expiry
        self.cache = metrics_of(self.container).permission_cache

    def get_dependency(self, worker_ctx):
        return self

    def checker(self, roles):
        """`has_access(user_id, permission, event_id)` asked of `roles`
        (the worker's proxy) unless a recent "yes" is at hand."""
        def has_access(user_id, permission, event_id):
            key, now = (user_id, permission, event_id), time.monotonic()
            if self.granted.get(key, 0) > now:
                self.cache.labels("hit").inc()
                return True
            self.cache.labels("miss").inc()
            allowed = roles.has_access(user_id, permission, event_id)
            if allowed and self.ttl > 0:
                self._keep(key, now + self.ttl)
            return allowed
        return has_access

    def _keep(self, key, expiry):
        if len(self.granted) >= MAX_ENTRIES:
            now = time.monotonic()
            self.granted = {k: until for k, until in self.granted.items() if until > now}
        self.granted[key] = expiry
