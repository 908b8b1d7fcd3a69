"""The roles service over RPC (`Rpc("roles")`): users, their roles on
events, role invites and permission checks.

Methods take and return plain data. An actor-scoped method acts for the
user the call proves (`shared.actors`: the gateway's signed assertion in
the call's context, never an argument; `ActorNotProven` without a valid
one) and authorizes that user here. A method that names its `Callers:`
refuses every other service (`CallerNotAllowed`). Every method may raise
`Unavailable` (a database or broker outage).
"""
from typing import Any, Protocol

from contracts.vocabulary import Permission

Json = dict[str, Any]


class RolesRpc(Protocol):
    def sign_up(self, data: Json) -> Json:
        """`{email, password, name}` (`SignUp`) → the new user.

        Callers: gateway.

        Raises: InvalidRoleData, EmailTaken (the email, compared
        case-insensitively, is signed up already)."""

    def authenticate(self, email: str, password: str) -> Json:
        """The user with this email and password.

        Callers: gateway.

        Raises: InvalidRoleData, InvalidCredentials (an unknown email and a
        wrong password alike)."""

    def get_user(self, user_id: int) -> Json:
        """`{id, email, name, is_admin, created_at}`, for the user
        themselves (the proven actor) or an admin: it reveals an email.

        Raises: InvalidRoleData, UserNotFound, AccessDenied, ActorNotProven."""

    def set_admin(self, user_id: int, is_admin: bool) -> Json:
        """Grant or revoke the admin flag; the actor must be an admin.

        Callers: gateway.

        Raises: InvalidRoleData, UserNotFound, AccessDenied."""

    def has_access(self, user_id: int, permission: Permission, event_id: int | None) -> bool:
        """Whether the user passes `permission` on the event (`event_id`
        None for `is_admin`); admins pass every check, an unknown user none.

        Callers: events, media, gateway.

        Raises: InvalidRoleData."""

    def list_event_roles(self, event_id: int) -> list[Json]:
        """The event's team: `[{user_id, email, role}]`, strongest first;
        the proven actor must be coorganizer+ of the event (it reveals
        emails).

        Raises: InvalidRoleData, EventNotFound, AccessDenied, ActorNotProven."""

    def await_event(self, event_id: int, timeout: float | None = None) -> Json:
        """`{event_id, ready: true}` once the event's team is in place (its
        `event.created` or `event.copied` handled). It holds a worker, not
        a database connection, while it waits: callers that wait long
        under load pass a short timeout and call again, so the service's
        own handlers, which need its workers, are not starved.

        Callers: gateway.

        Raises: InvalidRoleData, EventNotReady (after `timeout` seconds,
        default `GRANT_TIMEOUT`)."""

    def create_invite(self, event_id: int, data: Json) -> Json:
        """Invite `{email, role}` (`InviteIn`) to the event (organizer+; an
        owner invite: the owner); emits `invite.created`. Answers the
        pending invite with `event_name`, and its `token` and
        `accept_path`, given back this once.

        Callers: gateway.

        Raises: InvalidRoleData, EventNotFound, AccessDenied, InviteExists."""

    def list_invites(self, event_id: int, limit: int | None = None,
                     offset: int | None = None) -> Json:
        """`{items, total, limit, offset}`, newest first (coorganizer+).

        Callers: gateway.

        Raises: InvalidRoleData, EventNotFound, AccessDenied."""

    def get_invite(self, invite_id: int) -> Json:
        """The invite (the invitee or coorganizer+), never its token.

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, AccessDenied."""

    def update_invite(self, invite_id: int, data: Json) -> Json:
        """The invitee sends `{status: accepted|declined}` alone; an
        organizer+ may change `role` and `email` of a pending invite
        (`InviteUpdate`). An acceptance emits `invite.accepted` and answers
        once the role is granted (`role_granted`).

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, EventNotFound (deleted),
        AccessDenied, InviteClosed, InviteExists."""

    def respond_to_invite(self, token: str, status: str) -> Json:
        """Accept or decline by the emailed token; the actor must be the
        invitee. Answers like `update_invite`.

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, EventNotFound (deleted),
        AccessDenied, InviteClosed."""

    def delete_invite(self, invite_id: int) -> Json:
        """Withdraw a pending invite (organizer+; an owner invite: the owner).

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, AccessDenied, InviteClosed
        (accepted)."""

    def health(self) -> Json:
        """`{"service": "roles", "database": "ok"}`.

        Raises: Unavailable."""
