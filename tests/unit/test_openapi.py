"""The OpenAPI document: valid OpenAPI 3.1, and it describes every route
the gateway serves (as werkzeug matches them), and nothing else."""
import re

from openapi_spec_validator import validate

from services.gateway.openapi import document, routes
from services.gateway.service import GatewayService

ANY = re.compile(r"<any\(([^)]*)\):(\w+)>")
VARIABLE = re.compile(r"<(?:\w+:)?(\w+)>")


def served():
    """(method, OpenAPI path) of each URL rule the gateway's server is given."""
    for _, route in routes(GatewayService):
        rule = route.get_url_rule()
        for path in _expanded(rule.rule):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield method.lower(), VARIABLE.sub(r"{\1}", path)


def _expanded(path):
    """A path per kind of child (the document lists each); other choices
    stay one path with an enum parameter."""
    match = ANY.search(path)
    if match is None:
        return [path]
    if match[2] != "kind":
        return _expanded(path[:match.start()] + "{" + match[2] + "}" + path[match.end():])
    values = [value.strip().strip('"') for value in match[1].split(",")]
    return [p for value in values
            for p in _expanded(path[:match.start()] + value + path[match.end():])]


def documented(spec):
    return {(method, path) for path, operations in spec["paths"].items() for method in operations}


def test_the_document_is_valid_openapi_3_1():
    spec = document(GatewayService)

    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_the_document_covers_every_route_served_and_nothing_else():
    spec = document(GatewayService)
    served_routes = set(served())

    assert len(served_routes) > 60  # the child kinds are expanded
    assert served_routes == documented(spec)


def test_signed_in_routes_say_so_and_public_ones_do_not():
    operations = {(method, path): operation
                  for path, methods in document(GatewayService)["paths"].items()
                  for method, operation in methods.items()}

    assert operations[("get", "/v1/users/me")]["security"] == [{"bearer": []}]
    assert operations[("get", "/v1/events/{event}")]["security"] == [{}, {"bearer": []}]
    assert "security" not in operations[("post", "/v1/users")]
    assert operations[("get", "/v1/health")]["security"] == [{}, {"bearer": []}]


def test_bodies_are_the_schemas_the_services_validate_with():
    spec = document(GatewayService)
    body = spec["paths"]["/v1/events/{event}/tracks"]["post"]["requestBody"]
    track = spec["components"]["schemas"]["TrackIn"]

    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TrackIn"}
    assert set(track["required"]) == {"name", "color"}
    assert track["additionalProperties"] is False
