"""The events service over RPC (`Rpc("events")`): events and everything in
them, and the copy of an event with one call.

Methods take and return plain data (ids, strings, JSON-ready dicts); `ref`
is an event's numeric id or its identifier. A change acts for the user the
call proves (`shared.actors`: the gateway's signed assertion in the call's
context, never an argument), authorized against the roles service; without
a valid one it raises `ActorNotProven`. Reads take no actor: other services
rely on them, and the gateway decides who may see what. A method that
names its `Callers:` refuses every other service (`CallerNotAllowed`).
Every method may raise `Unavailable` (a database or broker outage).
"""
from typing import Any, Protocol

Json = dict[str, Any]


class EventsRpc(Protocol):
    def create_event(self, data: Json) -> Json:
        """Create an event (`EventIn`) owned by the actor, who must be a
        signed-up user; emits `event.created`. The event as stored.

        Raises: InvalidEventData, AccessDenied."""

    def get_event(self, ref: int | str) -> Json:
        """The event, with its media URLs.

        Raises: EventNotFound."""

    def update_event(self, ref: int | str, data: Json) -> Json:
        """Change the fields sent (`EventUpdate`); organizer+ of the event.

        Raises: InvalidEventData, EventNotFound, AccessDenied."""

    def delete_event(self, ref: int | str) -> Json:
        """Soft delete, by the owner; emits `event.deleted`.

        Raises: InvalidEventData, EventNotFound, AccessDenied."""

    def create_child(self, ref: int | str, kind: str, data: Json) -> Json:
        """Create a child of `kind` (a URL segment: tracks, sponsors, …;
        its schema in `CHILDREN`); organizer+ of the event.

        Raises: InvalidEventData, EventNotFound, UnknownKind, AccessDenied."""

    def list_children(self, ref: int | str, kind: str, limit: int = 50,
                      offset: int = 0, public: bool = False) -> Json:
        """`{items, total, limit, offset}` of the event's live children of
        `kind`; limit is 1–200. `public`: only the kind's public view
        (`PUBLIC_VIEWS`: the rows anyone may see, without private fields).

        Raises: InvalidEventData, EventNotFound, UnknownKind."""

    def get_child(self, kind: str, child_id: int, public: bool = False) -> Json:
        """One child; `public`: in its public view, ChildNotFound if it is
        not in it.

        Raises: InvalidEventData, ChildNotFound (also for a malformed id),
        UnknownKind."""

    def list_events(self, event_ids: list[int], state: str | None = None,
                    q: str | None = None, limit: int = 50, offset: int = 0) -> Json:
        """`{items, total, limit, offset}`: the live events among
        `event_ids` (at most `MAX_LISTED_EVENTS`), of `state` if given,
        whose name contains `q` (case-insensitively) if given, by
        `starts_at` then id.

        Raises: InvalidEventData."""

    def list_public_events(self, q: str | None = None, limit: int = 50,
                           offset: int = 0) -> Json:
        """`{items, total, limit, offset}`: published public events, by
        `starts_at` then id, whose name contains `q` if given.

        Raises: InvalidEventData."""

    def update_child(self, kind: str, child_id: int, data: Json) -> Json:
        """Change the fields sent; organizer+ of the child's event.

        Raises: InvalidEventData, ChildNotFound, UnknownKind, AccessDenied."""

    def delete_child(self, kind: str, child_id: int) -> Json:
        """Soft delete; organizer+ of the child's event.

        Raises: InvalidEventData, ChildNotFound, UnknownKind, AccessDenied."""

    def copy_event(self, ref: int | str, name: str | None = None,
                   include: list[str] = (), idempotency_key: str | None = None) -> Json:
        """Copy the event and its related objects in one transaction.

        Copies taxes, tickets, social links, sponsors, microlocations,
        tracks, speakers calls, discount codes (links remapped to the copied
        tickets), custom forms and session types; with
        `include=["sessions"]` also sessions and speakers. Never orders,
        attendees, access codes or soft-deleted rows. The copy is a draft
        with a new id and identifier and `copied_from_id` set. Emits
        `event.copied` with the old → new sponsor ids. The same
        `idempotency_key` from the same actor returns the first copy.
        Returns `{id, identifier, copied: true, copied_from: {id, identifier}}`.
        The actor must be coorganizer+ of the source.

        Raises: InvalidEventData, EventNotFound, AccessDenied,
        IdempotencyKeyReused, CopyFailed."""

    def apply_media_urls(self, event_id: int, media_version: int, event_urls: dict[str, str],
                         sponsor_urls: dict[int, str]) -> bool:
        """Show the media service's URLs (`event_urls`: field → URL,
        `sponsor_urls`: sponsor id → URL) of `media_version`, unless the
        event shows a newer one; whether it did. The media service calls it
        after each change, and announces the same in `media.changed`.

        Callers: media.

        Raises: InvalidEventData, EventNotFound."""

    def health(self) -> Json:
        """`{"service": "events", "database": "ok"}`.

        Raises: Unavailable."""
