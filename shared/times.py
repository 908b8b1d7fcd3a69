"""Times as every answer gives them: ISO 8601 in UTC."""
from datetime import UTC


def iso_utc(value):
    """An aware datetime as ISO 8601 UTC text; None stays None."""
    return None if value is None else value.astimezone(UTC).isoformat()
