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
        case-insensitively, is signed up already), PasswordsBusy."""

    def sign_in(self, email: str, password: str, lifetime_seconds: int) -> Json:
        """A new sign-in (`SignedIn`): `{user, session_id}`; the session
        lasts `lifetime_seconds` unless it is ended before.

        Callers: gateway.

        Raises: InvalidRoleData, InvalidCredentials (an unknown email and a
        wrong password alike), PasswordsBusy (too many password hashes
        under way: try again shortly)."""

    def check_session(self, user_id: int, session_id: str) -> bool:
        """True if the user's sign-in `session_id` is still on: not ended,
        not expired.

        Callers: gateway.

        Raises: InvalidRoleData, SessionEnded."""

    def end_session(self, session_id: str) -> None:
        """Sign out: the proven actor's session ends (again: nothing).

        Callers: gateway.

        Raises: InvalidRoleData, ActorNotProven."""

    def get_user(self, user_id: int) -> Json:
        """`{id, email, name, is_admin, email_verified, created_at}`, for the user
        themselves (the proven actor) or an admin: it reveals an email.

        Raises: InvalidRoleData, UserNotFound, AccessDenied, ActorNotProven."""

    def set_admin(self, user_id: int, is_admin: bool) -> Json:
        """Grant or revoke the admin flag; the actor must be an admin.

        Callers: gateway.

        Raises: InvalidRoleData, UserNotFound, AccessDenied."""

    def update_me(self, data: Json, session_id: str) -> Json:
        """The proven actor changes `{name}` or `{password,
        current_password}` (`ProfileUpdate`); a password change ends every
        sign-in of theirs but `session_id`. Answers the user.

        Callers: gateway.

        Raises: InvalidRoleData, WrongPassword, PasswordsBusy, ActorNotProven."""

    def verify_email(self, token: str) -> Json:
        """Verify the email a mailed link's token was minted for; the token
        is used up. Answers the user, `email_verified: true`.

        Callers: gateway.

        Raises: InvalidRoleData, InvalidLink (unknown, used, superseded or
        expired)."""

    def request_verification(self) -> Json:
        """Ask for a new verification mail for the proven actor; emits
        `email_verification.requested`. `{"requested": true}`.

        Callers: gateway.

        Raises: EmailAlreadyVerified, MailTooSoon (one a minute),
        ActorNotProven."""

    def request_password_reset(self, email: str) -> Json:
        """`{"requested": true}` whether or not a user has `email`, after
        the same work; for a user, emits `password_reset.requested` (at
        most once a minute: sooner asks are answered alike and dropped).

        Callers: gateway.

        Raises: InvalidRoleData."""

    def reset_password(self, token: str, password: str) -> Json:
        """Set the password of the user a mailed reset token was minted
        for; the token is used up and every sign-in of the user ends.
        `{"reset": true}`.

        Callers: gateway.

        Raises: InvalidRoleData, InvalidLink, PasswordsBusy."""

    def has_access(self, user_id: int, permission: Permission, event_id: int | None) -> bool:
        """Whether the user passes `permission` on the event (`event_id`
        None for `is_admin`); admins pass every check, an unknown user none.

        Callers: events, media, webhooks, gateway.

        Raises: InvalidRoleData."""

    def list_event_roles(self, event_id: int) -> list[Json]:
        """The event's team: `[{user_id, email, role}]`, strongest first;
        the proven actor must be coorganizer+ of the event (it reveals
        emails).

        Raises: InvalidRoleData, EventNotFound, AccessDenied, ActorNotProven."""

    def change_role(self, event_id: int, user_id: int, role: str) -> Json:
        """Give a member another role (`RoleChange`: never `owner`); the
        actor must be organizer+ (so no coorganizer raises anyone). The
        owner's role is never changed this way. Emits `role.changed`;
        answers the `TeamMember`.

        Callers: gateway.

        Raises: InvalidRoleData, EventNotFound, AccessDenied, MemberNotFound,
        OwnerRoleFixed."""

    def remove_member(self, event_id: int, user_id: int) -> Json:
        """Take the user off the event's team (organizer+ for another
        member; any member for themselves: leaving), never the owner; their
        pending invites to the event are withdrawn. Emits `role.revoked`.
        `{"event_id", "user_id", "removed": true}`.

        Callers: gateway.

        Raises: InvalidRoleData, EventNotFound, AccessDenied, MemberNotFound,
        OwnerRoleFixed."""

    def list_my_events(self, role: str | None = None) -> list[Json]:
        """`[{event_id, role}]`: the live events where the proven actor
        holds a role (their strongest there), only those where it is `role`
        if given.

        Callers: gateway.

        Raises: InvalidRoleData, ActorNotProven."""

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
        owner invite: the owner); emits `invite.created`, on which the
        invitee is mailed the accept link. Answers the pending invite.

        Callers: gateway.

        Raises: InvalidRoleData, EventNotFound, AccessDenied, InviteExists."""

    def list_invites(self, event_id: int, limit: int | None = None,
                     offset: int | None = None) -> Json:
        """`{items, total, limit, offset}`, newest first (coorganizer+).

        Callers: gateway.

        Raises: InvalidRoleData, EventNotFound, AccessDenied."""

    def list_my_invites(self, status: str | None = None, limit: int | None = None,
                        offset: int | None = None) -> Json:
        """`{items, total, limit, offset}`: the invites to the proven
        actor's verified email, newest first, with `event_name`; only
        those of `status` if given.

        Callers: gateway.

        Raises: InvalidRoleData, EmailNotVerified, ActorNotProven."""

    def get_invite(self, invite_id: int) -> Json:
        """The invite (the verified invitee or coorganizer+), never its
        token.

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, AccessDenied."""

    def update_invite(self, invite_id: int, data: Json) -> Json:
        """The verified invitee sends `{status: accepted|declined}` alone;
        an organizer+ may change `role` and `email` of a pending invite
        (`InviteUpdate`; a new email kills the link and emits
        `invite.resent`). An acceptance emits `invite.accepted` and
        answers once the role is granted (`role_granted`).

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, EventNotFound (deleted),
        AccessDenied, EmailNotVerified, InviteClosed, InviteExists."""

    def respond_to_invite(self, token: str, status: str) -> Json:
        """Accept or decline by the mailed token; the actor must be the
        invitee, verified. Answers like `update_invite`.

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound (no invite has the token, or
        a later link superseded it), EventNotFound (deleted), AccessDenied,
        EmailNotVerified, InviteClosed."""

    def resend_invite(self, invite_id: int) -> Json:
        """Kill a pending invite's link, renew its expiry and emit
        `invite.resent`, on which a fresh link is mailed (organizer+; an
        owner invite: the owner). Answers the invite.

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, EventNotFound (deleted),
        AccessDenied, InviteClosed."""

    def delete_invite(self, invite_id: int) -> Json:
        """Withdraw a pending invite (organizer+; an owner invite: the owner).

        Callers: gateway.

        Raises: InvalidRoleData, InviteNotFound, AccessDenied, InviteClosed
        (accepted)."""

    # what the notifications service asks when it mails a link: each mints
    # the link's token, which only this answer carries (never a message)

    def invite_mail(self, invite_id: int) -> Json:
        """`InviteMail` for a pending invite, with a fresh accept token.

        Callers: notifications.

        Raises: InvalidRoleData, InviteNotFound, MailNotDue."""

    def verification_mail(self, user_id: int) -> Json:
        """`Mail` with a fresh verification token for the user's email.

        Callers: notifications.

        Raises: InvalidRoleData, UserNotFound, MailNotDue (verified)."""

    def password_reset_mail(self, user_id: int) -> Json:
        """`Mail` with a fresh reset token, while the user's last reset
        request is younger than the token's lifetime and unused.

        Callers: notifications.

        Raises: InvalidRoleData, UserNotFound, MailNotDue."""

    # and when it mails an event's owner (a webhook disabled): no link token

    def owner_mail(self, event_id: int) -> Json:
        """`OwnerMail`: `{to, name}` of the event's owner and its
        `event_name` (asked of the events service); no token.

        Callers: notifications.

        Raises: InvalidRoleData, EventNotFound (unknown or deleted)."""

    def health(self) -> Json:
        """`{"service": "roles", "database": "ok"}`.

        Raises: Unavailable."""
