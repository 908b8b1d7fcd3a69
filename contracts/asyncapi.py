"""The AsyncAPI 3 document of the messages the system publishes, generated
from the message types of `contracts` (`catalog.message_types`): their
JSON Schemas are pydantic's, of the same models the consumers validate
with, and their exchanges nameko's, where the relay publishes them. The
gateway serves it (`GET /v1/asyncapi.json`); `make asyncapi` writes it to
`docs/asyncapi.yaml`, and `make lint` validates it with `@asyncapi/parser`.
"""
import inspect

from nameko.standalone.events import get_event_exchange
from pydantic.json_schema import models_json_schema

from contracts.catalog import message_types

VERSION = "3.0.0"
AMQP_BINDING = "0.3.0"
REF = "#/components/schemas/{model}"
DESCRIPTION = """\
Every message the services publish on RabbitMQ. Each service publishes on a
topic exchange of its own, `{service}.events` (durable), with the message's
type as routing key: a channel here is one routing key on one exchange. The
body is a JSON object (content type `application/json`); its `version` is
the version of the message type's schema.

**Delivery: at least once.** A message is published once the change it
announces has committed (outbox), and published again if the publisher
stopped before the broker confirmed it, so a consumer may see a message
twice: deduplicate by `message_id` (in the body, and the AMQP `message_id`
property). **Ordered per event:** a service publishes its messages in commit
order, so the messages about one event reach a queue in the order they
happened; consume with one consumer per queue to keep that order. The AMQP
`user_id` property is the publishing service, as RabbitMQ checked it.

**Binding a queue:** declare a durable queue of your own, bind it to the
exchange of each channel you want with the channel's routing key (topic
patterns such as `event.*` work), consume with acknowledgements, and
acknowledge a message once handled. An integration gets such a queue, bound
for it, and a broker account that may read only that queue
(`make integration`, see docs/integrations.md)."""


def document(title="Open Event services: messages", version="1"):
    """The AsyncAPI 3.0 document, as a JSON-ready dict."""
    messages = message_types()
    _, schemas = models_json_schema([(message, "serialization") for message in messages],
                                    ref_template=REF)
    channels, operations, components = {}, {}, {}
    for message in messages:
        name, channel = message.__name__, message.event_type
        components[name] = _message(message)
        channels[channel] = _channel(message)
        operations[f"publish{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": f"The {message.source} service publishes {message.event_type}",
            "summary": first_sentence(message.__doc__),
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": AMQP_BINDING}},
        }
    return {
        "asyncapi": VERSION,
        "info": {"title": title, "version": version, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": components, "schemas": schemas.get("$defs", {})},
    }


def _channel(message):
    exchange = get_event_exchange(message.source, {})
    return {
        "address": message.event_type,
        "title": f"{message.event_type} on {exchange.name}",
        "description": f"Bind a queue to the {exchange.type} exchange `{exchange.name}` with "
                       f"the routing key `{message.event_type}`.",
        "messages": {message.__name__: {"$ref": f"#/components/messages/{message.__name__}"}},
        "bindings": {"amqp": {
            "is": "routingKey",
            "exchange": {"name": exchange.name, "type": exchange.type,
                         "durable": exchange.durable, "autoDelete": bool(exchange.auto_delete)},
            "bindingVersion": AMQP_BINDING}},
    }


def _message(message):
    version = message.model_fields["version"].default
    return {
        "name": message.event_type,
        "title": f"{message.event_type}, version {version}",
        "summary": first_sentence(message.__doc__),
        "description": f"{inspect.cleandoc(message.__doc__ or '')}\n\nPublished by the "
                       f"{message.source} service. Schema version {version}.",
        "contentType": "application/json",
        "payload": {"$ref": REF.format(model=message.__name__)},
        "bindings": {"amqp": {"contentEncoding": "utf-8", "messageType": message.event_type,
                              "bindingVersion": AMQP_BINDING}},
        "x-version": version,
        "x-source": message.source,
    }


def first_sentence(doc):
    """A docstring's first sentence, on one line (docs/messages.md says it too)."""
    text = " ".join(inspect.cleandoc(doc or "").split())
    return text.split(". ")[0].rstrip(".") + "." if text else ""
