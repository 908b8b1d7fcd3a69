"""Where one service ends: each implements the RPC Protocol of its
contract, and the gateway loads no other service's code, no database layer
and no image library."""
import inspect
import subprocess
import sys
import textwrap

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from contracts.events.rpc import EventsRpc
from contracts.media.rpc import MediaRpc
from contracts.roles.rpc import RolesRpc
from services.events.service import EventsService
from services.media.service import MediaService
from services.roles.service import RolesService
from shared.rpc import Rpc, RpcEntrypoint

IMPLEMENTATIONS = [(EventsRpc, EventsService), (RolesRpc, RolesService),
                   (MediaRpc, MediaService)]


def rpc_methods(service_class):
    return {name: method for name, method in inspect.getmembers(service_class,
                                                                inspect.isfunction)
            if any(isinstance(entrypoint, RpcEntrypoint)
                   for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()))}


def protocol_methods(protocol):
    return {name: method for name, method in vars(protocol).items()
            if inspect.isfunction(method) and not name.startswith("_")}


def parameters(function):
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(("protocol", "service"), IMPLEMENTATIONS,
                         ids=lambda item: item.__name__)
def test_a_service_serves_exactly_the_methods_of_its_protocol(protocol, service):
    assert set(rpc_methods(service)) == set(protocol_methods(protocol))


@pytest.mark.parametrize(("protocol", "service"), IMPLEMENTATIONS,
                         ids=lambda item: item.__name__)
def test_each_method_takes_the_parameters_its_protocol_names(protocol, service):
    served = rpc_methods(service)
    for name, declared in protocol_methods(protocol).items():
        assert parameters(served[name]) == parameters(declared), name


@pytest.mark.parametrize("protocol", [EventsRpc, RolesRpc, MediaRpc],
                         ids=lambda item: item.__name__)
def test_every_method_of_a_contract_says_what_it_answers_and_raises(protocol):
    for name, method in protocol_methods(protocol).items():
        assert "Raises:" in (method.__doc__ or ""), name


def test_the_gateway_types_its_proxies_by_the_contracts():
    from services.gateway.service import GatewayService

    hints = GatewayService.__annotations__
    assert (hints["events"], hints["roles"], hints["media"]) == (EventsRpc, RolesRpc, MediaRpc)
    assert all(isinstance(getattr(GatewayService, name), Rpc)
               for name in ("events", "roles", "media"))


BLOCKED = ("sqlalchemy", "psycopg2", "alembic", "PIL", "services.events", "services.roles",
           "services.media")


def test_the_gateway_imports_with_databases_images_and_other_services_blocked():
    script = textwrap.dedent(f"""
        import sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r} or name.startswith({BLOCKED!r}):
                    raise ImportError("blocked: " + name)

        sys.meta_path.insert(0, Blocker())
        from services.gateway.openapi import document
        from services.gateway.service import GatewayService
        assert document(GatewayService)["paths"]
        print("imported")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"
