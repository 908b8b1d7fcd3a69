"""The OpenAPI 3.1 document of the gateway, generated from its routes.

Each `route` describes itself (method, path, summary, auth, body and answer
models); pydantic writes the JSON Schemas of those models, the same ones
the routes and services validate with. A path with `{kind}` becomes one
path per kind of child, each with that kind's schemas.
"""
import inspect
import re

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from services.events.schemas import KINDS
from services.gateway.http import PARAMETERS, Route
from services.gateway.problems import CONTENT_TYPE as PROBLEM_TYPE
from services.gateway.schemas import Problem

REF = "#/components/schemas/{model}"
PATH_PARAMETER = re.compile(r"\{(\w+)\}")


class SchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON Schema, without the `default: null` of fields that
    are optional to send but refuse null (the update schemas')."""

    def default_schema(self, schema):
        json_schema = super().default_schema(schema)
        if json_schema.get("default", ...) is None:
            del json_schema["default"]
        return json_schema


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
        models.update(model for model in _models(route, kind)
                      if model is not None and not isinstance(model, str))
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
    return [(path.replace("{kind}", kind), kind) for kind in KINDS]


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
    return top.get("$defs", {})


def _ref(model):
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route, kind, operation_id):
    operation = {
        "operationId": operation_id,
        "summary": route.summary.format(kind=kind),
        "tags": [route.tag or "other"],
        "parameters": [*_path_parameters(route.path), *_query_parameters(route.query)],
        "responses": {**{str(status): _response(_for_kind(model, kind))
                         for status, model in route.responses.items()},
                      "default": {"description": "a problem (RFC 9457)",
                                  "content": {PROBLEM_TYPE: {"schema": _ref(Problem)}}}},
    }
    body = _for_kind(route.body, kind)
    if body is not None:
        operation["requestBody"] = {"required": route.body_required,
                                    "content": {"application/json": {"schema": _ref(body)}}}
    elif route.raw_body:
        operation["requestBody"] = {"required": True, "content": {
            route.raw_body: {"schema": {"type": "string", "contentMediaType": route.raw_body}}}}
    if route.auth == "required":
        operation["security"] = [{"bearer": []}]
    elif route.auth == "optional":
        operation["security"] = [{}, {"bearer": []}]
    return operation


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
        return {"description": "done"}
    if isinstance(model, str):  # a media type of raw bytes
        return {"description": "the bytes", "content": {model: {"schema": {"type": "string"}}}}
    return {"description": model.__name__,
            "content": {"application/json": {"schema": _ref(model)}}}
