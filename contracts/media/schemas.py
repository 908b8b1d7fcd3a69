"""What the media service answers."""
from shared.validation import Answer


class MediaRecord(Answer):
    id: int
    slot: str
    url: str
    content_type: str
    size: int


class MediaChange(Answer):
    event_id: int
    media: list[MediaRecord]
