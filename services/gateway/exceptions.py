"""The gateway's own errors, which never cross RPC (problems.py maps them,
and every service's, to HTTP)."""
from shared.errors import InvalidInput, Unauthenticated

__all__ = ["Unauthenticated", "MalformedBody", "InvalidRequest"]


class MalformedBody(InvalidInput):
    """The body is not JSON, or not the JSON object the route takes."""

    code = "malformed_body"


class InvalidRequest(InvalidInput):
    """A body or query that its schema refuses."""

    code = "invalid_input"

