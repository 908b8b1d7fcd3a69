"""A stand-in OpenTelemetry collector for the benchmarks: it takes spans by
OTLP/HTTP (`POST /v1/traces`, protobuf) as Jaeger or Tempo would, counts
them and keeps none, so that what a service pays to record and send its
spans is measured, not what a real collector would cost the machine.

    with Collector() as collector:   # its base URL: OTEL_EXPORTER_OTLP_ENDPOINT
        ...
    collector.spans                  # spans received
"""
import eventlet
from eventlet import wsgi
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class Collector:
    def __init__(self):
        self.spans = 0
        self.url = self._server = None

    def __enter__(self):
        sock = eventlet.listen(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = eventlet.spawn(wsgi.server, sock, self._receive, log_output=False)
        return self

    def __exit__(self, *exc_info):
        self._server.kill()

    def _receive(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = ExportTraceServiceRequest.FromString(body)
        self.spans += sum(len(scope.spans) for resource in request.resource_spans
                          for scope in resource.scope_spans)
        start_response("200 OK", [("Content-Type", "application/x-protobuf")])
        return [ExportTraceServiceResponse().SerializeToString()]
