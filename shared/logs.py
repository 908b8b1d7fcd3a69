"""JSON logs: one object per line, for a log collector to index.

Every line has `time` (ISO 8601, UTC), `level`, `logger`, `message` and
`service`; `request_id` when it was logged for a request (the current one,
see `shared.context`, or a record's own `request_id` attribute, given with
`extra=`); `trace_id` and `span_id` (hex, as a trace viewer shows them)
when it was logged in a traced worker (`shared.tracing`); `exception`
when it comes with a traceback. A password in a URL (`amqp://user:secret@…`,
as nameko writes a broker address it cannot reach, each address of a
failover list) is written as `***`. A service selects it in the LOGGING
section of its config.yml, which `nameko run` applies with
`logging.config.dictConfig`::

    formatters:
      json:
        "()": shared.logs.JsonFormatter
        service: events
"""
import json
import logging
import re
from datetime import UTC, datetime

from opentelemetry import trace

from shared.context import current_request_id

URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", re.IGNORECASE)


class JsonFormatter(logging.Formatter):
    def __init__(self, service=None):
        super().__init__()
        self.service = service

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": hide_passwords(record.getMessage()),
            "service": self.service,
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            line["request_id"] = request_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = trace.format_trace_id(span.trace_id)
            line["span_id"] = trace.format_span_id(span.span_id)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = hide_passwords(record.exc_text)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def hide_passwords(text):
    """`text` with the password of every URL in it written as `***`."""
    return URL_PASSWORD.sub(r"\1***@", text)
