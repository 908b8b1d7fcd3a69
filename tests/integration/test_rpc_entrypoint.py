"""`shared.rpc.rpc`: a service survives the broker going away while it
works, and a request redelivered after that is not run a second time."""
import time
from urllib.parse import urlparse

import eventlet
import pytest
from eventlet.event import Event
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ServiceRpcProxy

from shared.rpc import rpc
from tests.support.proxy import TcpProxy
from tests.support.tap import wait_until


class Slow:
    name = "slow"
    calls = []
    release = None

    @rpc
    def work(self, key):
        self.calls.append(key)
        if key == "held":
            self.release.wait()
        return key


@pytest.fixture
def slow(container_factory, rabbit_config, service_config, monkeypatch):
    """The service, its broker connection through a proxy the test controls
    (on a vhost set up as the system's: `nameko-rpc` is the setup's)."""
    monkeypatch.setattr(Slow, "calls", [])
    monkeypatch.setattr(Slow, "release", Event())
    proxy = TcpProxy(urlparse(rabbit_config["AMQP_URI"]).port or 5672)
    uri = urlparse(rabbit_config["AMQP_URI"])
    config = {**rabbit_config,
              "AMQP_URI": uri._replace(netloc=f"{uri.username}:{uri.password}"
                                              f"@127.0.0.1:{proxy.port}").geturl()}
    container = container_factory(Slow, config)
    container.start()
    yield container, proxy
    container.kill()  # while the broker is reachable: nameko's kill waits for a reconnection
    proxy.close()


def test_a_reply_lost_with_the_broker_neither_kills_the_service_nor_runs_twice(
        slow, rabbit_config):
    container, proxy = slow
    with ServiceRpcProxy("slow", rabbit_config, timeout=3) as client:
        client.work.call_async("held")
        assert wait_until(lambda: Slow.calls == ["held"], timeout=10)

        proxy.cut()  # the request's delivery and the reply's way out go with it
        Slow.release.send()
        eventlet.sleep(0)
        proxy.restore()

        assert _call_as_callers_do(client.work, "after") == "after"  # reconnected

    assert not container._died.ready()
    assert Slow.calls.count("held") == 1  # the redelivered "held" was dropped
    assert "after" in Slow.calls


def _call_as_callers_do(method, *args, deadline=30):
    """Call until answered. A request sent just after the outage may still
    reach the consumer the broker has not yet noticed is gone; it comes back
    redelivered and is dropped, unrun, and the caller's retry gets through."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            return method(*args)
        except RpcTimeout:
            if time.monotonic() > give_up:
                raise
