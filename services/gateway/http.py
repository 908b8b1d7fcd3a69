"""The gateway's HTTP plumbing: `route`, a nameko HTTP entrypoint that
describes itself (for OpenAPI), authenticates, numbers the request and
answers errors as problems; and the helpers routes read requests and write
answers with.

A bearer token is good while its sign-in is on: before the handler runs,
its worker asks the roles service (`check_session`), so a token signed out,
or ended by a password change or reset, is refused at its next request, by
every gateway process.

A route's path is written as OpenAPI writes it (`/v1/events/{event}`); each
`{name}` is one of `PARAMETERS`, which gives its werkzeug converter and its
OpenAPI schema, so the URL map and the document come from one place.
"""
import json
import logging
import re
from functools import partial, wraps

from eventlet import wsgi
from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from contracts.vocabulary import CHILD_KINDS, UPLOAD_SLOTS
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
    "slot": (_any(UPLOAD_SLOTS), {"type": "string", "enum": list(UPLOAD_SLOTS)},
             "an event image slot"),
    "key": ("default", {"type": "string"}, "a media key, as in a media URL"),
}


class GatewayServer(WebServer):
    def get_wsgi_app(self):
        return GatewayApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        """nameko's server, but a request line up to `MAX_URL_BYTES` reaches
        the gateway (eventlet's 8 KiB default answers a bare 414 itself)."""
        return wsgi.Server(sock, sock.getsockname(), wsgi_app, protocol=protocol, debug=debug,
                           log=logging.getLogger("nameko.web.server"),
                           url_length_limit=MAX_URL_BYTES)


class GatewayApp(WsgiApp):
    """nameko's WSGI app, but an unknown path or method is a problem too."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = problem_response(exc)
            response.headers[REQUEST_ID_HEADER] = _request_id(request)
        return response(environ, start_response)


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

    def get_url_rule(self):
        return Rule(self.url, methods=[self.method])

    def handle_request(self, request):
        request.shallow = False
        request_id = _request_id(request)
        try:
            actor, request.session_id = self._signed_in(request)
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
        with bound_request_id(request_id):
            log.info("%s %s %s", request.method, request.path, response.status_code)
        return response

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
    only once the service's roles proxy says the token's sign-in is on."""
    def register(handler):
        @wraps(handler)
        def while_signed_in(self, request, actor, **values):  # the method it becomes
            if actor is not None:
                self.roles.check_session(actor, request.session_id)
            return handler(self, request, actor, **values)
        return Route.decorator(method, path, **options)(while_signed_in)
    return register


def _werkzeug_path(path):
    return re.sub(r"\{(\w+)\}", lambda m: f"<{PARAMETERS[m[1]][0]}:{m[1]}>", path)


def _request_id(request):
    """The caller's `X-Request-Id` when it is a sensible token, else a new one."""
    return valid_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()


# reading requests

def json_body(request, limit, schema=None, required=True):
    """The body as a JSON object (at most `limit` bytes, refused with 413
    before reading more), checked against `schema` when given. Answers the
    object as sent: the service behind validates it again and stores it."""
    request.max_content_length = limit
    raw = request.get_data(cache=False)
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


def raw_body(request, limit):
    """The body's bytes, at most `limit` (413 before reading more)."""
    request.max_content_length = limit
    return request.get_data(cache=False)


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
    return Response(json.dumps(body), status=status, headers=headers,
                    content_type="application/json")


def bytes_response(content, content_type, headers, status=200):
    return Response(content, status=status, headers=headers, content_type=content_type)


def no_content():
    return Response(status=204)


def accepted():
    """202: taken; what it sets off (a mail) follows."""
    return Response(status=202)
