"""What the media service publishes (on its nameko event exchange, the
type's `event_type` as routing key); see shared.messages for the base."""
from typing import Literal

from pydantic import Field

from shared.messages import Message


class MediaCopied(Message):
    """A copied event's own media records exist: the copy's URLs."""

    source = "media"
    event_type = "media.copied"

    source_event_id: int
    event_id: int
    event_urls: dict[str, str] = Field(description="event field -> URL")
    sponsor_urls: dict[int, str] = Field(description="new sponsor id -> URL")


class MediaChanged(Message):
    """An event's or its sponsors' images changed: the event's media as they
    are now, numbered in commit order (`media_version`), so that a consumer
    can keep the newest.

    Version 2 renamed the counter from `version`, which is the schema's
    version in every message; a version-1 payload (no `media_version`) is
    read as its version-2 equivalent."""

    source = "media"
    event_type = "media.changed"

    version: Literal[2] = 2
    event_id: int
    media_version: int
    event_urls: dict[str, str] = Field(description="event field -> URL")
    sponsor_urls: dict[int, str] = Field(description="sponsor id -> URL")

    @classmethod
    def upcast(cls, payload):
        if isinstance(payload, dict) and "media_version" not in payload and "version" in payload:
            return {**payload, "media_version": payload["version"], "version": 2}
        return payload
