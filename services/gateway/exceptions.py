"""The gateway's own errors, which never cross RPC (problems.py maps them,
and every service's, to HTTP)."""
from shared.errors import InvalidInput, Throttled, Unauthenticated, Unavailable

__all__ = ["Unauthenticated", "MalformedBody", "InvalidRequest", "RateLimited",
           "RateLimitsUnavailable"]


class MalformedBody(InvalidInput):
    """The body is not JSON, or not the JSON object the route takes."""

    code = "malformed_body"


class InvalidRequest(InvalidInput):
    """A body or query that its schema refuses."""

    code = "invalid_input"



class RateLimited(Throttled):
    """Over one of the gateway's rate limits (`ratelimits`): `limit` in its
    window, which leaves room again in `retry_after` seconds."""

    code = "rate_limited"

    def __init__(self, detail, limit, retry_after):
        super().__init__(detail)
        self.limit, self.retry_after = limit, retry_after

    @property
    def headers(self):
        """The RateLimit fields (draft-ietf-httpapi-ratelimit-headers)."""
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(self.retry_after)}


class RateLimitsUnavailable(Unavailable):
    """Redis, where the rate limits count, does not answer: a limited route
    that guards against abuse is refused rather than left unlimited."""

    code = "rate_limits_unavailable"
