"""`shared.rpc.rpc`: a service survives the broker going away while it
works, and a request redelivered after that is not run a second time."""
from urllib.parse import urlparse

import eventlet
import pytest
from eventlet.event import Event
from nameko.standalone.rpc import ServiceRpcProxy

from shared.rpc import rpc
from tests.support.proxy import TcpProxy
from tests.support.tap import wait_until

pytestmark = pytest.mark.integration


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
def slow(container_factory, rabbit_config, monkeypatch):
    """The service, its broker connection through a proxy the test controls."""
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
    proxy.close()


def test_a_reply_lost_with_the_broker_neither_kills_the_service_nor_runs_twice(
        slow, rabbit_config):
    container, proxy = slow
    with ServiceRpcProxy("slow", rabbit_config, timeout=30) as client:
        client.work.call_async("held")
        assert wait_until(lambda: Slow.calls == ["held"], timeout=10)

        proxy.cut()  # the request's delivery and the reply's way out go with it
        Slow.release.send()
        eventlet.sleep(0)
        proxy.restore()

        assert client.work("after") == "after"  # reconnected, and answering

    assert not container._died.ready()
    assert Slow.calls == ["held", "after"]  # the redelivered "held" was dropped
