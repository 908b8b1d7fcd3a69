"""Media URLs, the media service's face on the web: absolute,
`{PUBLIC_BASE_URL}/media/{key}`, each with an unguessable key of its own.

The media service builds them on its `PUBLIC_BASE_URL`; the events service,
reading the same setting, shows an image URL only if it has this shape on
that base, so no message can make an event show an image from elsewhere.
"""
import re

from shared.settings import setting

KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
PUBLIC_BASE_URL = setting(
    "http://localhost:8000", "the system's public address: media URLs are"
    " `PUBLIC_BASE_URL/media/{key}`, and mailed links are built on it")


def media_url(base_url, key):
    return f"{base_url.rstrip('/')}/media/{key}"


def is_media_url(url, base_url):
    """Whether `url` is a media URL on `base_url`."""
    prefix = media_url(base_url, "")
    return (isinstance(url, str) and url.startswith(prefix)
            and KEY.fullmatch(url.removeprefix(prefix)) is not None)
