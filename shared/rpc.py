"""RPC between services, made safe for the broker going away.

Calling: nameko's `RpcProxy` waits for a reply forever. `Rpc` is the same
dependency whose calls give up after `RPC_TIMEOUT` seconds with
`Unavailable`, as they do when the target service is not running, or
`Outage` when the broker cannot be reached. Errors the target raises
arrive as themselves (shared.errors).

Answering: `@rpc` is nameko's entrypoint with three changes.
- A reply that cannot be sent (the broker is away) is logged, not raised:
  in nameko it kills the whole service. The caller's call times out.
- A reply is sent without a publisher confirm (nameko waits for one): a
  reply the broker loses is a call that times out either way, and the wait
  cost a round trip and a tenth of a reading service's CPU.
- A redelivered request is dropped: its first delivery went to a consumer
  that lost its connection or stopped, so the caller has given up or will,
  and retries (with an idempotency key where a repeat would matter). An
  RPC runs at most once; nothing is done twice behind a caller's back.
"""
import logging
import warnings

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy

from shared.errors import Outage, Unavailable
from shared.settings import ServiceSettings, settings_of

log = logging.getLogger(__name__)

BROKER_ERRORS = (OSError, KombuError, AMQPError)


class RpcEntrypoint(nameko_rpc.Rpc):
    def handle_message(self, body, message):
        if message.delivery_info.get("redelivered"):
            log.warning("dropped a redelivered request for %s: its caller retries",
                        self.method_name)
            self.rpc_consumer.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        # nameko's RpcConsumer.handle_result, with the responder below
        config = self.container.config
        responder = Responder(
            config[AMQP_URI_CONFIG_KEY], nameko_rpc.get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except BROKER_ERRORS as exc:
            log.warning("could not answer %s (%r): the caller's call times out",
                        self.method_name, exc)
            return result, exc_info
        self.rpc_consumer.queue_consumer.ack_message(message)
        return result, exc_info


class UnconfirmedPublisher(Publisher):
    use_confirms = False


class Responder(nameko_rpc.Responder):
    publisher_cls = UnconfirmedPublisher


rpc = RpcEntrypoint.decorator


class Rpc(RpcProxy):
    def __init__(self, target_service, **options):
        # no publisher confirm per request: a request the broker loses is a
        # call that times out, as one whose answer is lost; saves a round trip
        super().__init__(target_service, **{"use_confirms": False, **options})

    def setup(self):
        super().setup()
        self.timeout = settings_of(self.container, ServiceSettings).RPC_TIMEOUT
        # nameko asks for mandatory delivery, which needs confirms to tell an
        # unknown service; without them such a call times out instead: known
        warnings.filterwarnings("ignore", message="Mandatory delivery was requested")

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(super().get_dependency(worker_ctx), self.timeout)


class TimedServiceProxy:
    """`proxy.method(*args)` calls the target's method and waits at most
    `timeout` seconds for the answer."""

    def __init__(self, proxy, timeout):
        self._proxy = proxy
        self._timeout = timeout

    def within(self, timeout):
        """The same proxy, waiting at most `timeout` seconds."""
        return TimedServiceProxy(self._proxy, timeout)

    def __getattr__(self, method):
        def call(*args, **kwargs):
            what = f"{self._proxy.service_name}.{method}"
            try:
                reply = getattr(self._proxy, method).call_async(*args, **kwargs)
            except UnknownService:
                raise Unavailable(f"{what}: the service is not running") from None
            except BROKER_ERRORS as exc:
                raise Outage(f"{what}: the broker is unreachable ({exc})") from None
            with eventlet.Timeout(self._timeout, False):
                return reply.result()
            raise Unavailable(f"{what} did not answer within {self._timeout:g}s")
        return call
