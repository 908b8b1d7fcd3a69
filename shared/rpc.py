"""RPC to another service, with a deadline.

nameko's `RpcProxy` waits for a reply forever. `Rpc` is the same
dependency whose calls give up after `RPC_TIMEOUT` seconds (default 10)
with `Unavailable`, as they do when the target service is not running or
the broker cannot be reached.
Errors the target raises arrive as themselves (shared.errors).
"""
import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy

from shared.errors import Outage, Unavailable

DEFAULT_TIMEOUT = 10.0


class Rpc(RpcProxy):
    def setup(self):
        super().setup()
        self.timeout = float(self.container.config.get("RPC_TIMEOUT", DEFAULT_TIMEOUT))

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
            except (OSError, KombuError, AMQPError) as exc:
                raise Outage(f"{what}: the broker is unreachable ({exc})") from None
            with eventlet.Timeout(self._timeout, False):
                return reply.result()
            raise Unavailable(f"{what} did not answer within {self._timeout:g}s")
        return call
