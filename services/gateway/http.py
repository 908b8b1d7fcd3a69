"""The gateway's HTTP plumbing: `route`, a nameko HTTP entrypoint that
describes itself (for OpenAPI), authenticates, numbers the request and
answers errors as problems; and the helpers routes read requests and write
answers with.

A bearer token is good while its sign-in is on: before the handler runs,
its worker asks the roles service (`check_session`, through the read cache,
`reads`), so a token signed out, or ended by a password change or reset, is
refused at its next request, by every gateway process.

A route's path is written as OpenAPI writes it (`/v1/events/{event}`); each
`{name}` is one of `PARAMETERS`, which gives its werkzeug converter and its
OpenAPI schema, so the URL map and the document come from one place.
"""
import errno
import json
import logging
import re
import time
from functools import partial, wraps

import eventlet
from eventlet import wsgi
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from pydantic import ValidationError
from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, RequestTimeout
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from contracts.vocabulary import CHILD_KINDS, UPLOAD_SLOTS
from services.gateway.clients import client_address
from services.gateway.cors import Cors
from services.gateway.exceptions import InvalidRequest, MalformedBody
from services.gateway.problems import problem_response
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import codec_from
from shared.actors import ACTOR_KEY, ActorSigner
from shared.context import REQUEST_ID_KEY, bound_request_id, new_request_id, valid_request_id
from shared.ids import MAX_ID
from shared.settings import settings_of
from shared.validation import describe

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
MAX_URL_BYTES = 32 * 1024
CLOSE = "gateway.close_connection"  # environ key: end the connection after this answer
ACCEPT_LATER = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED}
ACCEPT_BACKOFF_SECONDS = 0.1
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _any(names):
    return "any(" + ", ".join(f'"{name}"' for name in names) + ")"


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
PARAMETERS = {  # name -> (werkzeug converter, OpenAPI schema, description)
    "event": ("default", {"type": "string"}, "the event's numeric id or its identifier"),
    "kind": (_any(CHILD_KINDS), {"type": "string", "enum": list(CHILD_KINDS)},
             "a kind of child"),
    "child_id": ("int", ID_SCHEMA, "the child's id"),
    "sponsor_id": ("int", ID_SCHEMA, "the sponsor's id"),
    "invite_id": ("int", ID_SCHEMA, "the invite's id"),
    "user_id": ("int", ID_SCHEMA, "the member's user id"),
    "webhook_id": ("int", ID_SCHEMA, "the webhook's id"),
    "delivery_id": ("int", ID_SCHEMA, "the delivery's id"),
    "slot": (_any(UPLOAD_SLOTS), {"type": "string", "enum": list(UPLOAD_SLOTS)},
             "an event image slot"),
    "key": ("default", {"type": "string"}, "a media key, as in a media URL"),
}


class GatewayServer(WebServer):
    """nameko's web server, with bounds for slow and greedy clients: at most
    `MAX_CONNECTIONS` open at once, each dropped once idle for `IDLE_TIMEOUT`
    or silent mid-request for `SOCKET_TIMEOUT`; and an `accept()` that fails
    (no file descriptor left) is waited out, where nameko's would end the
    service."""

    def setup(self):
        super().setup()
        self.settings = settings_of(self.container, GatewaySettings)

    def get_wsgi_app(self):
        return GatewayApp(self, Cors(frozenset(self.settings.CORS_ORIGINS)))

    def get_wsgi_server(self, sock, wsgi_app, protocol=None, debug=False):
        """eventlet's server with the gateway's timeouts and protocol; a
        request line up to `MAX_URL_BYTES` reaches the gateway (eventlet's
        8 KiB default answers a bare 414 itself)."""
        server = wsgi.Server(sock, sock.getsockname(), wsgi_app, protocol=GatewayProtocol,
                             debug=debug, log_output=False,  # the app logs each request
                             url_length_limit=MAX_URL_BYTES,
                             keepalive=self.settings.IDLE_TIMEOUT,
                             socket_timeout=self.settings.SOCKET_TIMEOUT)
        return server

    def run(self):
        slots = Semaphore(self.settings.MAX_CONNECTIONS)
        while self._is_accepting:
            slots.acquire()
            try:
                sock, address = self._sock.accept()
            except OSError as exc:
                slots.release()
                if exc.errno not in ACCEPT_LATER:
                    raise
                log.warning("cannot accept a connection (%s): trying again in %g s",
                            exc.strerror, ACCEPT_BACKOFF_SECONDS)
                eventlet.sleep(ACCEPT_BACKOFF_SECONDS)
                continue
            sock.settimeout(self._serv.socket_timeout)
            connection = self.container.spawn_managed_thread(
                partial(self.process_request, sock, address))
            connection.link(lambda _: slots.release())


class GatewayProtocol(HttpOnlyProtocol):
    """nameko's HTTP protocol, but the app may close the connection after its
    answer (`environ[CLOSE]()`)."""

    def get_environ(self):
        environ = super().get_environ()
        environ[CLOSE] = partial(setattr, self, "close_connection", 1)
        return environ


class GatewayApp(WsgiApp):
    """nameko's WSGI app, but an unknown path or method is a problem too (a
    405 with `Allow`), `OPTIONS` is answered for any route (`cors`), and
    every answer says `nosniff`. A request answered before its body was read
    (refused, or too slow) ends its connection, which eventlet would keep
    reading the body from. Each request is logged in one line: the client
    (the peer, or the client a trusted proxy forwards for, `clients`),
    method, path, status and time, with its request id."""

    def __init__(self, server, cors):
        super().__init__(server)
        self.cors = cors
        self.trusted_proxies = server.settings.TRUSTED_PROXIES

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = self._unrouted(request, exc)
        response.headers["X-Content-Type-Options"] = "nosniff"
        self.cors.admit(request, response)
        if _body_unread(environ):
            environ[CLOSE]()
        with bound_request_id(response.headers[REQUEST_ID_HEADER]):
            log.info("%s %s %s %s %.1f ms", client_address(environ, self.trusted_proxies),
                     request.method, request.path, response.status_code,
                     1000 * (time.perf_counter() - started))
        return response(environ, start_response)

    def _unrouted(self, request, exc):
        """A problem; or, to `OPTIONS` on a route, its preflight answer."""
        if isinstance(exc, MethodNotAllowed):
            exc = MethodNotAllowed([*exc.valid_methods, "OPTIONS"])
        if isinstance(exc, MethodNotAllowed) and request.method == "OPTIONS":
            response = self.cors.preflight(request, exc.valid_methods)
        else:
            response = problem_response(exc)
        response.headers[REQUEST_ID_HEADER] = _request_id(request)
        return response


class Route(HttpRequestHandler):
    """`@route("GET", "/v1/events/{event}", auth="optional", …)`.

    `auth`: "none" (the route reads no token), "optional" (a token, when
    sent, must be valid) or "required". The handler is called with the
    request, `actor` (the signed-in user's id or None) and the path values.
    `body` (a schema) and `responses` ({status: schema or None}) describe the
    route in the OpenAPI document (`body_required=False`: the body may be
    left out); `raw_body` names the media types taken as raw bytes.
    """

    server = GatewayServer()

    def __init__(self, method, path, *, summary, auth="required", body=None, body_required=True,
                 raw_body=None, query=None, responses=None, tag=None, **kwargs):
        super().__init__(method, _werkzeug_path(path), **kwargs)
        self.path, self.summary, self.auth, self.tag = path, summary, auth, tag
        self.body, self.body_required, self.raw_body, self.query = (
            body, body_required, raw_body, query)
        self.responses = responses or {200: None}

    def setup(self):
        super().setup()
        settings = settings_of(self.container, GatewaySettings)
        self.tokens = codec_from(settings)
        self.actors = ActorSigner(settings.ACTOR_SIGNING_KEY)
        self.body_limit = settings.MAX_IMAGE_BYTES if self.raw_body else settings.MAX_JSON_BYTES
        self.body_timeout = settings.BODY_TIMEOUT

    def get_url_rule(self):
        return Rule(self.url, methods=[self.method])

    def handle_request(self, request):
        request.shallow = False
        request_id = _request_id(request)
        try:
            actor, request.session_id = self._signed_in(request)
            self._read_body(request)
            kwargs = {**request.path_values, "actor": actor}
            self.check_signature((request,), kwargs)
            done = Event()
            self.container.spawn_worker(self, (request,), kwargs,
                                        context_data=self._context(request_id, actor),
                                        handle_result=partial(self.handle_result, done))
            response = done.wait()
        except Exception as exc:
            response = problem_response(exc)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    def _read_body(self, request):
        """The whole body, read here, before a worker is taken (a slow sender
        holds only its connection): at most the route's limit (413), within
        `BODY_TIMEOUT` (408)."""
        request.max_content_length = self.body_limit
        too_slow = RequestTimeout(f"the body did not arrive within {self.body_timeout:g} s")
        try:
            with eventlet.Timeout(self.body_timeout, too_slow):
                request.get_data()
        except ClientDisconnected:  # the client fell silent or went away mid-body
            raise too_slow from None

    def _context(self, request_id, actor):
        """What every call of the worker carries: the request id and, for a
        signed-in user, the proof of who acts (shared.actors)."""
        context = {REQUEST_ID_KEY: request_id}
        if actor is not None:
            context[ACTOR_KEY] = self.actors.sign(actor, request_id)
        return context

    def _signed_in(self, request):
        """`(user id, session id)` of the token, or `(None, None)`."""
        authorization = request.headers.get("Authorization")
        if self.auth == "none" or (self.auth == "optional" and authorization is None):
            return None, None
        return self.tokens.signed_in(authorization)


def route(method, path, **options):
    """`@route(...)` on a gateway method: a `Route`, whose handler runs
    only once the service's roles proxy says the token's sign-in is on,
    and, for a write, once the user's rate limit allows (`ratelimits`)."""
    def register(handler):
        @wraps(handler)
        def while_signed_in(self, request, actor, **values):  # the method it becomes
            if actor is not None:
                self.reads.signed_in(self.roles, actor, request.session_id)
                if method in WRITES:
                    self.rate_limits.write(actor)
            return handler(self, request, actor, **values)
        return Route.decorator(method, path, **options)(while_signed_in)
    return register


def _werkzeug_path(path):
    return re.sub(r"\{(\w+)\}", lambda m: f"<{PARAMETERS[m[1]][0]}:{m[1]}>", path)


def _body_unread(environ):
    """Whether part of the request's body is still unread (eventlet's test)."""
    body = environ["eventlet.input"]
    return body.chunked_input or body.position < (body.content_length or 0)


def _request_id(request):
    """The caller's `X-Request-Id` when it is a sensible token, else a new one."""
    return valid_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()


# reading requests

def json_body(request, schema=None, required=True):
    """The body (read by its `Route`) as a JSON object, checked against
    `schema` when given. Answers the object as sent: the service behind
    validates it again and stores it."""
    raw = request.get_data()
    if not raw.strip():
        if required:
            raise MalformedBody("send a JSON object")
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise MalformedBody("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedBody("the body must be a JSON object")
    if schema is not None:
        checked(schema, data, "body")
    return data


def raw_body(request):
    """The body's bytes (read by its `Route`)."""
    return request.get_data()


def query(request, schema):
    """The query string checked against `schema`, as a dict; a parameter
    sent twice is refused, not silently taken once."""
    repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise InvalidRequest(f"invalid query: sent more than once: {', '.join(repeated)}")
    return checked(schema, request.args.to_dict(), "query")


def checked(schema, data, what):
    try:
        return schema.model_validate(data).model_dump()
    except ValidationError as exc:
        raise InvalidRequest(f"invalid {what}: {describe(exc)}") from None


# writing answers

def json_response(body, status=200, headers=None):
    """`body` as JSON; bytes are JSON text already (a kept answer)."""
    text = body if isinstance(body, bytes) else json.dumps(body)
    return Response(text, status=status, headers=headers, content_type="application/json")


def bytes_response(content, content_type, headers, status=200):
    return Response(content, status=status, headers=headers, content_type=content_type)


def no_content():
    return Response(status=204)


def accepted():
    """202: taken; what it sets off (a mail) follows."""
    return Response(status=202)
