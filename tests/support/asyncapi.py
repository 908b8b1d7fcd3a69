"""Check a message against the AsyncAPI document (`contracts.asyncapi`):
the JSON Schema of its channel's message, resolved within the document."""
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:asyncapi"


def payload_validator(document, channel):
    """A validator of the payload of `channel`'s message (KeyError if the
    document has no such channel)."""
    [reference] = document["channels"][channel]["messages"].values()
    message = document["components"]["messages"][reference["$ref"].rsplit("/", 1)[1]]
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    return Draft202012Validator({"$ref": DOCUMENT_URI + message["payload"]["$ref"]},
                                registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)
