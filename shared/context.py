"""The request id: which request a worker, and each line it logs, works for.

A request gets an id where it enters the system (the gateway: the client's
`X-Request-Id`, or a fresh one), and everything it sets off has the same id:

- nameko sends a worker's context data (`worker_ctx.data`) with every RPC
  call the worker makes, as `nameko.`-prefixed AMQP headers, and the
  callee's entrypoint puts them back into its own worker's context data;
- our events go through the outbox instead: `shared.outbox.add` records the
  id in the row's headers (`HEADER`), the relay publishes it with the
  message, and the consuming worker gets it back the same way.

`RequestContext`, a dependency of every service, makes the worker's id the
current one (`current_request_id()`, read by `shared.logs` and
`shared.outbox`) while the worker runs. A worker given none (a timer, a
message published without one) gets a fresh id, and the calls and messages
it makes carry that one on. Each green thread has its own current id.
"""
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from weakref import WeakKeyDictionary

from nameko.constants import HEADER_PREFIX
from nameko.extensions import DependencyProvider

REQUEST_ID_KEY = "request_id"  # in nameko context data
HEADER = f"{HEADER_PREFIX}.{REQUEST_ID_KEY}"  # on an AMQP message

_VALID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
_current = ContextVar("request_id", default=None)


def current_request_id():
    """The id of the request this green thread works for, or None."""
    return _current.get()


def new_request_id():
    return uuid.uuid4().hex


def valid_request_id(value):
    """`value` if it can serve as a request id (a string of 1 to 128 ASCII
    letters, digits and `._:/+=-`), else None: ids also come from clients."""
    if isinstance(value, str) and _VALID.fullmatch(value):
        return value
    return None


def message_headers():
    """The AMQP headers that carry the current request id to a consumer."""
    request_id = current_request_id()
    return {HEADER: request_id} if request_id else {}


@contextmanager
def bound_request_id(request_id):
    """Make `request_id` the current one inside the block."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


class RequestContext(DependencyProvider):
    """Every worker runs with a request id: the one it was given, if valid,
    or a fresh one, which is put into its context data so that the calls it
    makes carry it.

    Override `incoming_request_id` to take the id from elsewhere, e.g. from
    the `X-Request-Id` header of the request an `@http` worker is given."""

    def setup(self):
        self._tokens = WeakKeyDictionary()

    def incoming_request_id(self, worker_ctx):
        """The id the worker was given, or None."""
        return worker_ctx.context_data.get(REQUEST_ID_KEY)

    def worker_setup(self, worker_ctx):
        request_id = valid_request_id(self.incoming_request_id(worker_ctx)) or new_request_id()
        worker_ctx.data[REQUEST_ID_KEY] = request_id
        self._tokens[worker_ctx] = _current.set(request_id)

    def worker_teardown(self, worker_ctx):
        token = self._tokens.pop(worker_ctx, None)
        if token is not None:
            _current.reset(token)

