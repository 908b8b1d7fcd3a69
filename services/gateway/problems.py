"""Every error as an `application/problem+json` answer (RFC 9457): `type`,
`title`, `status`, `detail` and the error's stable `code`.

`STATUS` is the one table from exception to HTTP status: the first class
an error is an instance of decides. Services raise their own subclasses of
`shared.errors`, which cross RPC as themselves, so the table names bases
and the few subclasses that need another status. Anything else is a bug:
500, logged with its traceback, and nothing of it leaks into the answer.
"""
import json
import logging

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from contracts.events.errors import CopyFailed
from contracts.media.errors import ImageTooLarge
from contracts.roles.errors import InvalidCredentials
from services.gateway.exceptions import MalformedBody, Unauthenticated
from shared import errors

log = logging.getLogger(__name__)

TYPE_BASE = "https://open-event.example/problems/"
CONTENT_TYPE = "application/problem+json"

STATUS = (
    (Unauthenticated, 401),
    (InvalidCredentials, 401),
    (MalformedBody, 400),
    (ImageTooLarge, 413),
    (errors.InvalidInput, 422),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Throttled, 429),
    (errors.Unavailable, 503),
    (CopyFailed, 503),
)
RETRY_AFTER_SECONDS = "1"


def problem_response(exc):
    """The answer for `exc`: a ServiceError, a werkzeug HTTPException (no
    such route, method not allowed, body too large) or a bug."""
    if isinstance(exc, HTTPException):
        allow = getattr(exc, "valid_methods", None)  # a 405 names the methods (RFC 9110)
        return problem(exc.code, _snake(exc.name), exc.description,
                       {"Allow": ", ".join(allow)} if allow else None)
    for error_class, status in STATUS:
        if isinstance(exc, error_class):
            return _service_problem(exc, status)
    log.error("unexpected error", exc_info=exc)
    return problem(500, "internal_error", "something went wrong on our side")


def _service_problem(exc, status):
    headers = None
    if isinstance(exc, errors.Throttled):
        headers = {"Retry-After": str(exc.retry_after), **getattr(exc, "headers", {})}
    return problem(status, exc.code, str(getattr(exc, "detail", "")) or _title(exc.code),
                   headers)


def problem(status, code, detail, headers=None):
    body = {"type": TYPE_BASE + code, "title": _title(code), "status": status,
            "detail": detail, "code": code}
    response = Response(json.dumps(body), status=status, content_type=CONTENT_TYPE,
                        headers=headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="open-event"'
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _snake(name):
    return name.lower().replace(" ", "_").replace("-", "_")


def _title(code):
    return code.replace("_", " ").capitalize()
