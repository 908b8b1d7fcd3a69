"""Every service's contract in one list: the RPC Protocols and the message
types, in the order they are written. Docs and the message catalogue are
generated from here."""
import inspect
from importlib import import_module

from shared.messages import Message

SERVICES = ("events", "roles", "media", "notifications", "webhooks")


def rpc_protocols():
    """`{service: Protocol}`."""
    return {service: _defined_in(f"contracts.{service}.rpc",
                                 lambda item: getattr(item, "_is_protocol", False))[0]
            for service in SERVICES}


def message_types():
    """Every message type, by service, then as written."""
    return [message for service in SERVICES
            for message in _defined_in(f"contracts.{service}.messages",
                                       lambda item: issubclass(item, Message))]


def _defined_in(module_name, wanted):
    module = import_module(module_name)
    return [item for item in vars(module).values()
            if inspect.isclass(item) and item.__module__ == module_name and wanted(item)]
