"""The words every service uses alike: roles, permissions, image slots
and their URL fields, the kinds of child of an event.

Roles and permissions are `StrEnum`s: each member is its plain string,
which is what travels over RPC, in messages and in the database.
"""
from enum import StrEnum


class Role(StrEnum):
    """Roles on an event, strongest first (the database ranks them so)."""

    OWNER = "owner"
    ORGANIZER = "organizer"
    COORGANIZER = "coorganizer"
    TRACK_ORGANIZER = "track_organizer"
    MODERATOR = "moderator"
    REGISTRAR = "registrar"


ROLES = tuple(role.value for role in Role)


class Permission(StrEnum):
    """What `roles.has_access` checks; `contracts.powers` says which roles
    pass which."""

    IS_OWNER = "is_owner"
    IS_ORGANIZER = "is_organizer"
    IS_COORGANIZER = "is_coorganizer"
    IS_TEAM_MEMBER = "is_team_member"
    IS_ADMIN = "is_admin"
    READS_PROGRAM = "reads_program"
    MANAGES_PROGRAM = "manages_program"
    REVIEWS_SESSIONS = "reviews_sessions"
    READS_REGISTRATIONS = "reads_registrations"
    CHECKS_IN = "checks_in"


# image slot -> the event's URL field that shows it; an upload goes to
# `original` (the service makes the renditions) or `logo`
EVENT_IMAGE_FIELDS = {
    "logo": "logo_url",
    "original": "original_image_url",
    "large": "large_image_url",
    "thumbnail": "thumbnail_image_url",
    "icon": "icon_image_url",
}
IMAGE_SLOTS = tuple(EVENT_IMAGE_FIELDS)
UPLOAD_SLOTS = ("original", "logo")
RENDITION_SLOTS = ("large", "thumbnail", "icon")
SPONSOR_LOGO_FIELD = "logo_url"

# the kinds of child of an event, as URL segments
CHILD_KINDS = (
    "tracks", "microlocations", "sponsors", "tickets", "taxes", "social-links",
    "speakers-calls", "discount-codes", "custom-forms", "session-types", "sessions",
    "speakers", "orders", "attendees", "access-codes",
)

# the media types of the images the media service takes and serves
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
