"""A client generated from the OpenAPI document by openapi-python-client
(as a user of the API would make one) has every operation, each module
imports, and the image uploads take a file and send its bytes.

The generator knows no image/* media type: it takes binary bytes only as
application/octet-stream, which the document lists after the image types
(the gateway reads an upload's bytes, not its Content-Type). So its only
complaints are the uploads' image types, each of `IMAGE_TYPES`; anything
else (a skipped operation, another media type it cannot use, such as a
range like image/*) fails. Telling it to take the image types as bytes
(`content_type_overrides`) would silence them, but 0.29.1 then writes
upload modules that do not import (a required body of several media
types: upstream issues #1451 and #1276), so the client is generated with
the generator's defaults, as a user would.
"""
import importlib
import io
import json
import re
import sys

import httpx
import pytest
from openapi_python_client import generate
from openapi_python_client.config import Config, ConfigFile, MetaType

from services.gateway.openapi import BYTES, document
from services.gateway.service import IMAGE_TYPES, GatewayService

PACKAGE = "generated_open_event_client"
UPLOADS = {"put_event_image": "/v1/events/7/images/original",
           "put_sponsor_logo": "/v1/sponsors/7/logo"}
# the one complaint allowed: an upload's image type, which has bytes after it
BODY_TYPE = re.compile(r"WARNING parsing PUT (\S+) within \S+\. Unsupported content type (\S+)")


@pytest.fixture(scope="module")
def spec():
    return document(GatewayService)


@pytest.fixture(scope="module")
def generated(spec, tmp_path_factory):
    """(the generator's complaints, the package's folder), the package
    importable while the module's tests run."""
    folder = tmp_path_factory.mktemp("client")
    source = folder / "openapi.json"
    source.write_text(json.dumps(spec))
    # no post hooks: they only format the code, with a ruff found on PATH
    config = Config.from_sources(ConfigFile(post_hooks=[]), MetaType.NONE, source, "utf-8",
                                 overwrite=True, output_path=folder / PACKAGE)
    errors = generate(config=config)
    sys.path.insert(0, str(folder))
    yield errors, folder / PACKAGE
    sys.path.remove(str(folder))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def operation_ids(spec):
    return {operation["operationId"] for operations in spec["paths"].values()
            for operation in operations.values()}


def operation_module(package, operation_id):
    """The generated module of an operation (under its tag's folder)."""
    paths = list(package.glob(f"api/*/{operation_id}.py"))
    assert len(paths) == 1, f"no module of its own for {operation_id}: {paths}"
    parts = paths[0].relative_to(package).with_suffix("").parts
    return importlib.import_module(".".join((PACKAGE, *parts)))


def test_the_generator_skips_nothing_and_minds_only_the_uploads_image_types(spec, generated):
    errors, _ = generated
    upload_paths = {path for path, operations in spec["paths"].items()
                    for operation in operations.values() if operation["operationId"] in UPLOADS}

    complaints = [f"{error.header} {error.detail}" for error in errors]
    assert not [line for line in complaints if "will not be generated" in line], complaints
    matches = [BODY_TYPE.fullmatch(line) for line in complaints]
    assert all(matches) and all(error.level.value == "WARNING" for error in errors), complaints
    assert sorted(match.groups() for match in matches) == sorted(
        (path, media_type) for path in upload_paths for media_type in IMAGE_TYPES)


def test_the_image_types_are_named_and_bytes_come_last(spec):
    """Last: a generator that takes several would send the last one's type."""
    for path in ("/v1/events/{event}/images/{slot}", "/v1/sponsors/{sponsor_id}/logo"):
        content = spec["paths"][path]["put"]["requestBody"]["content"]
        assert list(content) == [*IMAGE_TYPES, BYTES]
    answer = spec["paths"]["/media/{key}"]["get"]["responses"]["200"]
    assert list(answer["content"]) == [*IMAGE_TYPES, BYTES]


def test_every_operation_has_a_module_that_imports(spec, generated):
    _, package = generated
    ids = operation_ids(spec)

    assert set(UPLOADS) <= ids
    for operation_id in sorted(ids):
        assert hasattr(operation_module(package, operation_id), "sync_detailed"), operation_id


@pytest.mark.parametrize("operation_id", sorted(UPLOADS))
def test_an_upload_sends_the_file_bytes(generated, operation_id):
    _, package = generated
    upload = operation_module(package, operation_id)
    client_module = importlib.import_module(f"{PACKAGE}.client")
    file_type = importlib.import_module(f"{PACKAGE}.types").File
    sent = []

    def gateway(request):
        sent.append(request)
        return httpx.Response(200, json={"event_id": 7, "media": []})

    client = client_module.AuthenticatedClient(
        base_url="http://gateway", token="a-token",
        httpx_args={"transport": httpx.MockTransport(gateway)})
    path_values = {"event": "7", "slot": "original"} if "event" in operation_id else {
        "sponsor_id": 7}
    answer = upload.sync_detailed(**path_values, client=client,
                                  body=file_type(payload=io.BytesIO(b"\x89PNG the bytes")))

    assert answer.status_code == 200 and answer.parsed.event_id == 7
    request, = sent
    assert (request.method, request.url.path) == ("PUT", UPLOADS[operation_id])
    assert request.content == b"\x89PNG the bytes"
    assert request.headers["Content-Type"] == BYTES
    assert request.headers["Authorization"] == "Bearer a-token"


def test_a_media_file_answer_brings_its_bytes(generated):
    _, package = generated
    read = operation_module(package, "read_media")
    client_module = importlib.import_module(f"{PACKAGE}.client")
    client = client_module.Client(base_url="http://gateway", httpx_args={
        "transport": httpx.MockTransport(lambda request: httpx.Response(
            200, content=b"\x89PNG the bytes", headers={"Content-Type": "image/png"}))})

    answer = read.sync_detailed(key="k", client=client)

    assert answer.status_code == 200 and answer.parsed.payload.read() == b"\x89PNG the bytes"
