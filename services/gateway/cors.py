"""Cross-origin requests (CORS): which web pages a browser lets read the
API's answers.

Only the origins of `CORS_ORIGINS` are admitted, none by default. A
preflight (`OPTIONS`) is answered for any route: 204 with the route's
methods in `Allow`, and for an admitted origin what it may send. Every
other answer to an admitted origin names it in
`Access-Control-Allow-Origin`, and, once any origin is admitted, each
answer says it varies by `Origin`, so that no cache hands one origin's
answer to another. Tokens travel in `Authorization`, never in cookies, so
no credentials are allowed.
"""
from dataclasses import dataclass

from werkzeug.wrappers import Response

ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-None-Match",
                   "X-Request-Id")
EXPOSED_HEADERS = ("X-Request-Id", "ETag", "Retry-After", "RateLimit-Limit",
                   "RateLimit-Remaining", "RateLimit-Reset")
MAX_AGE_SECONDS = 600  # how long a browser may reuse a preflight's answer


@dataclass(frozen=True)
class Cors:
    origins: frozenset

    def preflight(self, request, methods):
        """The answer to an `OPTIONS` request of a route taking `methods`."""
        response = Response(status=204, headers={"Allow": ", ".join(methods)})
        if self._admits(request):
            response.headers.update({
                "Access-Control-Allow-Methods": ", ".join(methods),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(MAX_AGE_SECONDS)})
        return response

    def admit(self, request, response):
        """Let the request's origin read `response`, if it is admitted."""
        if not self.origins:
            return
        response.vary.add("Origin")
        if self._admits(request):
            response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
            response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)

    def _admits(self, request):
        return request.headers.get("Origin") in self.origins
