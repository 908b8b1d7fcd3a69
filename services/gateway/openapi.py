"""The OpenAPI 3.1 document of the gateway, generated from its routes.

Each `route` describes itself (method, path, summary, auth, body and answer
models); pydantic writes the JSON Schemas of those models, the same ones
the routes and services validate with. A path with `{kind}` becomes one
path per kind of child, each with that kind's schemas.

What pydantic cannot see, the generator adds: the shape a validator
function checks (a colour, a URL, an email address, money as a decimal
string), so that a request the document calls valid is one the services
take, and an answer is checked against what the services store.
"""
import inspect
import re

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from pydantic import AfterValidator, BeforeValidator
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from contracts.events import schemas as events
from contracts.events.schemas import PUBLIC_VIEWS
from contracts.powers import CHILD_POWERS, holders
from contracts.roles import schemas as roles
from contracts.vocabulary import CHILD_KINDS
from services.gateway.http import PARAMETERS, Route
from services.gateway.problems import CONTENT_TYPE as PROBLEM_TYPE
from services.gateway.schemas import Problem

REF = "#/components/schemas/{model}"
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
# every answer names its request
REQUEST_ID = {"X-Request-Id": {"description": "the request's id, as the logs show it",
                               "required": True, "schema": {"type": "string", "minLength": 1}}}
# Raw bytes are documented under their media types and, last, as plain
# bytes: a code generator that knows no image/* type (openapi-python-client)
# still makes the operation, uploading a file as this and reading an answer
# as a file. A raw body is taken whatever its Content-Type says (the service
# behind reads the type from the bytes); an answer names its own type.
BYTES = "application/octet-stream"


def _validator(annotated, kind=AfterValidator):
    """The function of the annotated type's (first) validator of `kind`."""
    return next(item.func for item in annotated.__metadata__ if isinstance(item, kind))


def _shape(annotated):
    """The regular expression a `_shaped` type's validator matches, whole
    (the one place it is written is that validator)."""
    compiled = inspect.getclosurevars(_validator(annotated)).nonlocals["compiled"]
    return {"pattern": f"^(?:{compiled.pattern})$"}


# validator function -> what it checks, as JSON Schema keywords
CHECKED = {
    _validator(events.Color): _shape(events.Color),
    _validator(events.Length): _shape(events.Length),
    _validator(events.Url): {"format": "uri", "pattern": "^https?://[^/?#\\s]"},
    _validator(events.Email): {"format": "email"},
    _validator(roles.Email): {"format": "email"},
    _validator(events.Timezone): {"examples": ["UTC", "Europe/Berlin"]},
}
# a before-validator that refuses a JSON number with a fraction: money is
# sent as a decimal string (or a whole number)
DECIMAL_STRING = _validator(events.Money, BeforeValidator)
# pydantic's names of constraints it leaves as they are when it cannot put
# them into the schema (money's, behind its before-validator)
BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


class SchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON Schema, without the `default: null` of fields that
    are optional to send but refuse null (the update schemas'), with what
    the validators in `CHECKED` check, and decimals as the services take
    them: a number (or, for money, a whole number) or a decimal string
    whose pattern allows the digits the field allows."""

    def default_schema(self, schema):
        json_schema = super().default_schema(schema)
        if json_schema.get("default", ...) is None:
            del json_schema["default"]
        return json_schema

    def function_after_schema(self, schema):
        return {**super().function_after_schema(schema),
                **CHECKED.get(schema["function"]["function"], {})}

    def function_before_schema(self, schema):
        json_schema = super().function_before_schema(schema)
        if schema["function"]["function"] is DECIMAL_STRING:
            for branch in json_schema.get("anyOf", ()):
                if branch.get("type") == "number":
                    branch["type"] = "integer"
        return json_schema

    def get_decimal_pattern(self, schema):
        return decimal_pattern(schema.get("max_digits"), schema.get("decimal_places"),
                               signed=schema.get("ge", schema.get("gt", -1)) < 0)


def decimal_pattern(max_digits=None, decimal_places=None, signed=True):
    """A decimal string with at most `max_digits` digits, `decimal_places`
    of them after the point: `12`, `12.5`, `-0.25`."""
    whole = "+" if max_digits is None else f"{{1,{max_digits - (decimal_places or 0)}}}"
    fraction = "+" if decimal_places is None else f"{{1,{decimal_places}}}"
    point = "" if decimal_places == 0 else f"(?:\\.[0-9]{fraction})?"
    return f"^{'-?' if signed else ''}[0-9]{whole}{point}$"


def standard_keywords(node):
    """Put pydantic's constraint names left in `node` (and below) into JSON
    Schema's words: bounds onto the numeric branches, digits into the
    decimal strings' pattern. (A property of that name is a schema, a dict:
    it stays.)"""
    if isinstance(node, list):
        for item in node:
            standard_keywords(item)
        return
    if not isinstance(node, dict):
        return
    left = [name for name, value in node.items() if not isinstance(value, dict)]
    bounds = {BOUNDS[name]: node.pop(name) for name in left if name in BOUNDS}
    digits = {name: node.pop(name) for name in ("max_digits", "decimal_places") if name in left}
    if bounds or digits:
        for branch in node.get("anyOf", [node]):
            if branch.get("type") in ("number", "integer"):
                branch.update(bounds)
            elif branch.get("type") == "string":
                signed = bounds.get("minimum", bounds.get("exclusiveMinimum", -1)) < 0
                branch["pattern"] = decimal_pattern(**digits, signed=signed)
    for value in node.values():
        standard_keywords(value)


def routes(service_class):
    """`(method name, Route)` of every route the service serves."""
    for name, method in inspect.getmembers(service_class, inspect.isfunction):
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, Route):
                yield name, entrypoint


def document(service_class, title="Open Event services", version="1"):
    operations = [(path, kind, name, route) for name, route in routes(service_class)
                  for path, kind in _concrete_paths(route.path)]
    models = {Problem}
    for _, kind, _, route in operations:
        models.update(model for model in _models(route, kind) if isinstance(model, type))
    schemas = _schemas(models)

    paths = {}
    for path, kind, name, route in sorted(operations, key=lambda op: (op[0], op[3].method)):
        operation_id = name if kind is None else f"{name}_{kind.replace('-', '_')}"
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, kind, operation_id)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "The public HTTP API: events, their children, copies, "
                                "images, team roles and invites."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
        },
    }


def _concrete_paths(path):
    if "{kind}" not in path:
        return [(path, None)]
    return [(path.replace("{kind}", kind), kind) for kind in CHILD_KINDS]


def _for_kind(model, kind):
    return model[kind] if isinstance(model, dict) else model


def _models(route, kind):
    yield _for_kind(route.body, kind)
    yield route.query
    for model in route.responses.values():
        yield _for_kind(model, kind)


def _schemas(models):
    keyed = [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)]
    _, top = models_json_schema(keyed, ref_template=REF, schema_generator=SchemaGenerator)
    schemas = top.get("$defs", {})
    standard_keywords(schemas)
    return schemas


def _ref(model):
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route, kind, operation_id):
    operation = {
        "operationId": operation_id,
        "summary": route.summary.format(**_who(kind)),
        "tags": [route.tag or "other"],
        "parameters": [*_path_parameters(route.path), *_query_parameters(route.query)],
        "responses": {**{str(status): _response(_for_kind(model, kind))
                         for status, model in route.responses.items()},
                      "default": {"description": "a problem (RFC 9457)", "headers": REQUEST_ID,
                                  "content": {PROBLEM_TYPE: {"schema": _ref(Problem)}}}},
    }
    body = _for_kind(route.body, kind)
    if body is not None:
        operation["requestBody"] = {"required": route.body_required,
                                    "content": {"application/json": {"schema": _ref(body)}}}
    elif route.raw_body:
        types = _media_types(route.raw_body)
        operation["requestBody"] = {
            "required": True,
            "description": f"the file's bytes: {', '.join(types)} (or {BYTES}: the type is "
                           "read from the bytes, not from Content-Type)",
            "content": {media_type: _bytes(media_type) for media_type in (*types, BYTES)}}
    if route.auth == "required":
        operation["security"] = [{"bearer": []}]
    elif route.auth == "optional":
        operation["security"] = [{}, {"bearer": []}]
    return operation


def _who(kind):
    """What a child route's summary says of `kind`: its name and who may
    read and write it (`contracts.powers`); admins may all."""
    if kind is None:
        return {}
    powers = CHILD_POWERS[kind]
    lesser = "".join(f"; `{name}` alone: {holders(permission)}"
                     for name, permission in powers.fields.items())
    public = "; anyone: its public view" if kind in PUBLIC_VIEWS else ""
    return {"kind": kind, "readers": holders(powers.read) + public,
            "writers": holders(powers.write), "fields": lesser}


def _path_parameters(path):
    return [{"name": name, "in": "path", "required": True, "schema": PARAMETERS[name][1],
             "description": PARAMETERS[name][2]}
            for name in PATH_PARAMETER.findall(path) if name != "kind"]


def _query_parameters(query):
    if query is None:
        return []
    properties = query.model_json_schema(schema_generator=SchemaGenerator)["properties"]
    return [{"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in properties.items()]


def _response(model):
    if model is None:
        return {"description": "done", "headers": REQUEST_ID}
    if isinstance(model, str | tuple):  # the media type(s) of raw bytes
        return {"description": "the bytes, under their own media type", "headers": REQUEST_ID,
                "content": {media_type: _bytes(media_type)
                            for media_type in (*_media_types(model), BYTES)}}
    return {"description": model.__name__, "headers": REQUEST_ID,
            "content": {"application/json": {"schema": _ref(model)}}}


def _media_types(types):
    """A route's media type, or its tuple of them, as a tuple."""
    return (types,) if isinstance(types, str) else tuple(types)


def _bytes(media_type):
    """Raw bytes of `media_type`: `contentMediaType` says so in JSON Schema's
    words, `format: binary` in the words code generators read as a file."""
    return {"schema": {"type": "string", "format": "binary", "contentMediaType": media_type}}
