"""The gateway: the public HTTP API (the brief's route table), in front of
the events, roles and media services, which it calls by RPC. It holds no
data of its own: the answers it reads most (sign-ins, permissions, events,
their children, lists of events) are kept in a read cache on Redis that
the owning services keep fresh (`reads`).

Each route only translates: it authenticates (a JWT, see `tokens`), asks
the roles service whether the caller may (`access`), calls the service
that owns the data, and answers JSON; every error becomes a problem+json
answer through one table (`problems`). The services behind check the
actor again, so a direct RPC caller cannot bypass this door.

Read-your-writes: creating or copying an event answers once the roles
service has put the event's team in place, so the creator's next request
passes its checks.
"""
import base64
import time
from functools import cache

from eventlet.greenpool import GreenPool

from contracts.asyncapi import document as asyncapi_document
from contracts.events.rpc import EventsRpc
from contracts.events.schemas import CHILDREN as CHILD_SCHEMAS
from contracts.events.schemas import (
    PUBLIC_VIEWS,
    CopyRequest,
    CopyResult,
    EventIn,
    EventOut,
    EventUpdate,
)
from contracts.media.rpc import MediaRpc
from contracts.media.schemas import MediaChange
from contracts.notifications.rpc import NotificationsRpc
from contracts.powers import CHILD_POWERS
from contracts.roles.errors import EventNotReady, UserNotFound
from contracts.roles.rpc import RolesRpc
from contracts.roles.schemas import (
    Credentials,
    Invite,
    InviteAnswer,
    InviteIn,
    InviteQuery,
    InviteUpdate,
    LinkToken,
    PasswordReset,
    PasswordResetRequest,
    ProfileUpdate,
    RoleChange,
    SignUp,
    TeamMember,
    User,
)
from contracts.vocabulary import IMAGE_MEDIA_TYPES, Permission
from contracts.webhooks import errors as webhook_errors  # noqa: F401 (they cross RPC as themselves)
from contracts.webhooks.rpc import WebhooksRpc
from contracts.webhooks.schemas import Delivery, NewWebhook, Webhook, WebhookIn, WebhookUpdate
from services.gateway import access
from services.gateway.exceptions import InvalidRequest, Unauthenticated
from services.gateway.http import (
    Route,
    accepted,
    bytes_response,
    json_body,
    json_response,
    no_content,
    query,
    raw_body,
    route,
)
from services.gateway.openapi import document
from services.gateway.ratelimits import RateLimits
from services.gateway.reads import Reads
from services.gateway.schemas import EventsQuery, Health, MyEvent, Token, team_or_public
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import Tokens
from shared.context import RequestContext
from shared.metrics import Metrics
from shared.rpc import Rpc
from shared.settings import Settings
from shared.tracing import Tracing
from shared.validation import Page, page_of

SERVICES = ("events", "roles", "media", "notifications", "webhooks")
CREATE = {kind: spec.create for kind, spec in CHILD_SCHEMAS.items()}
UPDATE = {kind: spec.update for kind, spec in CHILD_SCHEMAS.items()}


def _views(answer_of_view, suffix=""):
    """Per kind, the answer: the team's, or either view for a public kind."""
    views = {}
    for kind, spec in CHILD_SCHEMAS.items():
        team = answer_of_view(spec.answer)
        public = PUBLIC_VIEWS.get(kind)
        views[kind] = team if public is None else team_or_public(
            team, answer_of_view(public.answer), f"{spec.answer.__name__}{suffix}View")
    return views


CHILDREN = _views(lambda answer: answer)
CHILD_PAGES = _views(page_of, "Page")
EVENT_LISTS = team_or_public(page_of(MyEvent), page_of(EventOut), "EventPageView")
IMAGE_TYPES = IMAGE_MEDIA_TYPES  # what the uploads take and /media/{key} serves
AWAIT_SLICE_SECONDS = 0.5
NO_STORE = {"Cache-Control": "no-store"}  # an answer that carries a token


class GatewayService:
    name = "gateway"

    events: EventsRpc = Rpc("events")
    roles: RolesRpc = Rpc("roles")
    media: MediaRpc = Rpc("media")
    notifications: NotificationsRpc = Rpc("notifications")
    webhooks: WebhooksRpc = Rpc("webhooks")
    tokens = Tokens()
    reads = Reads()
    rate_limits = RateLimits()
    settings: GatewaySettings = Settings(GatewaySettings)
    request_context = RequestContext()
    tracing = Tracing()
    metrics = Metrics()

    # users and tokens

    @route("POST", "/v1/users", summary="Sign up", auth="none", body=SignUp,
           responses={201: User}, tag="users")
    def sign_up(self, request, actor):
        """409 if the email (case-insensitively) is signed up already; 429
        past `RATE_LIMIT_SIGN_UP_ADDRESS` from the client's address."""
        data = self._json(request, SignUp)
        self.rate_limits.sign_up(request)
        return json_response(self.roles.sign_up(data), 201)

    @route("POST", "/v1/auth/token", summary="Sign in: a bearer token", auth="none",
           body=Credentials, responses={200: Token}, tag="users")
    def issue_token(self, request, actor):
        """401 for an unknown email and a wrong password alike. The token is
        good until it expires or its sign-in ends (sign-out, a password
        change or reset). 429 past `RATE_LIMIT_SIGN_IN_ACCOUNT` for the email
        or `RATE_LIMIT_SIGN_IN_ADDRESS` from the client's address."""
        credentials = self._json(request, Credentials)
        self.rate_limits.sign_in(request, credentials["email"])
        signed_in = self.roles.sign_in(credentials["email"], credentials["password"],
                                       self.tokens.lifetime)
        return json_response(self.tokens.issue(signed_in["user"]["id"], signed_in["session_id"]),
                             headers=NO_STORE)

    @route("POST", "/v1/auth/logout", summary="Sign out: this token stops working",
           responses={204: None}, tag="users")
    def sign_out(self, request, actor):
        self.roles.end_session(request.session_id)
        return no_content()

    @route("POST", "/v1/auth/password-reset", summary="Mail a password reset link",
           auth="none", body=PasswordResetRequest, responses={202: None}, tag="users")
    def request_password_reset(self, request, actor):
        """202 whether or not the email is signed up (nothing tells them
        apart); a user is mailed a link, at most once a minute."""
        data = self._json(request, PasswordResetRequest)
        self.rate_limits.mail(data["email"])
        self.roles.request_password_reset(data["email"])
        return accepted()

    @route("POST", "/v1/auth/password-reset/confirm", summary="Set a new password with the "
           "mailed token; every sign-in of the user ends", auth="none", body=PasswordReset,
           responses={204: None}, tag="users")
    def reset_password(self, request, actor):
        """422 `invalid_link` for a token unknown, used, superseded or expired."""
        data = self._json(request, PasswordReset)
        self.roles.reset_password(data["token"], data["password"])
        return no_content()

    @route("GET", "/v1/users/me", summary="The signed-in user", responses={200: User},
           tag="users")
    def me(self, request, actor):
        try:
            return json_response(self.roles.get_user(actor))
        except UserNotFound:
            raise Unauthenticated("the token's user does not exist") from None

    @route("PATCH", "/v1/users/me", summary="Change my name, or my password",
           body=ProfileUpdate, responses={200: User}, tag="users")
    def update_me(self, request, actor):
        """A new password goes with `current_password` (422 `wrong_password`
        if it is not) and ends every other sign-in of the user."""
        data = self._json(request, ProfileUpdate)
        return json_response(self.roles.update_me(data, request.session_id))

    @route("POST", "/v1/users/verify-email", summary="Verify an email with the mailed token",
           auth="none", body=LinkToken, responses={200: User}, tag="users")
    def verify_email(self, request, actor):
        """422 `invalid_link` for a token unknown, used, superseded or expired."""
        data = self._json(request, LinkToken)
        return json_response(self.roles.verify_email(data["token"]))

    @route("POST", "/v1/users/me/verify-email", summary="Mail me a new verification link",
           responses={202: None}, tag="users")
    def request_verification(self, request, actor):
        """At most one a minute (429 sooner); 409 once the email is verified.
        The link mailed before stops working."""
        self.rate_limits.mail(actor)
        self.roles.request_verification()
        return accepted()

    @route("GET", "/v1/users/me/role-invites", summary="The invites to my verified email",
           query=InviteQuery, responses={200: page_of(Invite)}, tag="roles")
    def my_invites(self, request, actor):
        """Newest first, each with `event_name`; 403 `email_not_verified`
        until the email is verified."""
        return json_response(self.roles.list_my_invites(**query(request, InviteQuery)))

    # events

    @route("GET", "/v1/events", summary="My events, or published public events",
           auth="optional", query=EventsQuery, responses={200: EVENT_LISTS}, tag="events")
    def list_events(self, request, actor):
        """Signed in: the events where I hold a role, each with `my_role`
        (filters `role`, `state`, `q`: in the name); `public=true`: the
        published public events, for anyone (filter `q`). By `starts_at`."""
        options = query(request, EventsQuery)
        window = {"limit": options["limit"], "offset": options["offset"]}
        if options["public"]:
            if options["role"] or options["state"]:
                raise InvalidRequest("invalid query: public events are filtered by q alone")
            return json_response(self.reads.public_events(options, lambda: (
                self.events.list_public_events(options["q"], **window))))
        if actor is None:
            raise Unauthenticated("sign in to list your events, or ask for ?public=true")

        def my_events():
            mine = {row["event_id"]: row["role"]
                    for row in self.roles.list_my_events(options["role"])}
            found = self.events.list_events(list(mine), options["state"], options["q"], **window)
            return {**found, "items": [{**event, "my_role": mine[event["id"]]}
                                       for event in found["items"]]}
        return json_response(self.reads.my_events(actor, options, my_events))

    @route("POST", "/v1/events", summary="Create an event; the creator is its owner",
           body=EventIn, responses={201: EventOut}, tag="events")
    def create_event(self, request, actor):
        event = self.events.create_event(self._json(request, EventIn))
        self._await_team(event["id"])
        return json_response(event, 201)

    @route("GET", "/v1/events/{event}", summary="An event, with its media URLs",
           auth="optional", responses={200: EventOut}, tag="events")
    def get_event(self, request, actor, event):
        """Any role on the event, or the event is published and public."""
        found = self.reads.event(self.events, event)
        access.require_reader(self._has_access, actor, found)
        return json_response(found)

    @route("PATCH", "/v1/events/{event}", summary="Update an event (organizer+)",
           body=EventUpdate, responses={200: EventOut}, tag="events")
    def update_event(self, request, actor, event):
        data = self._json(request, EventUpdate)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.events.update_event(found["id"], data))

    @route("DELETE", "/v1/events/{event}", summary="Delete an event (owner)",
           responses={204: None}, tag="events")
    def delete_event(self, request, actor, event):
        found = self._event(actor, event, Permission.IS_OWNER)
        self.events.delete_event(found["id"])
        return no_content()

    @route("POST", "/v1/events/{event}/copy", summary="Copy an event (coorganizer+)",
           body=CopyRequest, body_required=False, responses={201: CopyResult}, tag="events")
    def copy_event(self, request, actor, event):
        """The copy: a draft with a new id and identifier, its children and
        team; its media follow. An `Idempotency-Key` header sent again by
        the same user answers the first copy."""
        options = self._json(request, CopyRequest, required=False)
        found = self._event(actor, event, Permission.IS_COORGANIZER)
        copied = self.events.copy_event(
            found["id"], options.get("name"), options.get("include", []),
            request.headers.get("Idempotency-Key"))
        self._await_team(copied["id"])
        return json_response(copied, 201)

    # children

    @route("POST", "/v1/events/{event}/{kind}", summary="Create a {kind} ({writers})",
           body=CREATE, responses={201: CHILDREN}, tag="children")
    def create_child(self, request, actor, event, kind):
        data = self._json(request, CREATE[kind])
        found = self._event(actor, event, CHILD_POWERS[kind].write)
        return json_response(self.events.create_child(found["id"], kind, data), 201)

    @route("GET", "/v1/events/{event}/{kind}", summary="The event's {kind} ({readers})",
           auth="optional", query=Page, responses={200: CHILD_PAGES}, tag="children")
    def list_children(self, request, actor, event, kind):
        """Anyone else sees the public view of a public kind of a published,
        public event (no email; only accepted or confirmed sessions and
        their speakers; no private speakers call)."""
        window = query(request, Page)
        found = self.reads.event(self.events, event)
        public = not access.sees_team_view(self._has_access, actor, found, kind)
        return json_response(self.reads.children(self.events, found["id"], kind, **window,
                                                 public=public))

    @route("GET", "/v1/{kind}/{child_id}", summary="One {kind} ({readers})", auth="optional",
           responses={200: CHILDREN}, tag="children")
    def get_child(self, request, actor, kind, child_id):
        """As the list: the team's view, or the public one; 404 outside it."""
        child = self.events.get_child(kind, child_id)
        event = self.events.get_event(child["event_id"])
        if access.sees_team_view(self._has_access, actor, event, kind):
            return json_response(child)
        return json_response(self.events.get_child(kind, child_id, public=True))

    @route("PATCH", "/v1/{kind}/{child_id}", summary="Update a {kind} ({writers}{fields})",
           body=UPDATE, responses={200: CHILDREN}, tag="children")
    def update_child(self, request, actor, kind, child_id):
        data = self._json(request, UPDATE[kind])
        self._child(actor, kind, child_id, CHILD_POWERS[kind].to_update(data))
        return json_response(self.events.update_child(kind, child_id, data))

    @route("DELETE", "/v1/{kind}/{child_id}", summary="Delete a {kind} ({writers})",
           responses={204: None}, tag="children")
    def delete_child(self, request, actor, kind, child_id):
        self._child(actor, kind, child_id, CHILD_POWERS[kind].write)
        self.events.delete_child(kind, child_id)
        return no_content()

    # images

    @route("PUT", "/v1/events/{event}/images/{slot}", summary="Upload an event image "
           "(organizer+); `original` also makes the large, thumbnail and icon renditions",
           raw_body=IMAGE_TYPES, responses={200: MediaChange}, tag="media")
    def put_event_image(self, request, actor, event, slot):
        content = self._image(request)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return self._media_change(self.media.upload_event_image(found["id"], slot, content))

    @route("DELETE", "/v1/events/{event}/images/{slot}", summary="Remove an event image "
           "(organizer+)", responses={204: None}, tag="media")
    def delete_event_image(self, request, actor, event, slot):
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        self.media.delete_event_image(found["id"], slot)
        return no_content()

    @route("PUT", "/v1/sponsors/{sponsor_id}/logo", summary="Upload a sponsor's logo "
           "(organizer+)", raw_body=IMAGE_TYPES, responses={200: MediaChange}, tag="media")
    def put_sponsor_logo(self, request, actor, sponsor_id):
        content = self._image(request)
        self._child(actor, "sponsors", sponsor_id, Permission.IS_ORGANIZER)
        return self._media_change(self.media.upload_sponsor_logo(sponsor_id, content))

    @route("DELETE", "/v1/sponsors/{sponsor_id}/logo", summary="Remove a sponsor's logo "
           "(organizer+)", responses={204: None}, tag="media")
    def delete_sponsor_logo(self, request, actor, sponsor_id):
        self._child(actor, "sponsors", sponsor_id, Permission.IS_ORGANIZER)
        self.media.delete_sponsor_logo(sponsor_id)
        return no_content()

    @route("GET", "/media/{key}", summary="A media file's bytes", auth="none",
           responses={200: IMAGE_TYPES, 304: None}, tag="media")
    def read_media(self, request, actor, key):
        """Anyone with the URL; a replaced or deleted image's key answers 404,
        as do those of a deleted event or sponsor. A published public
        event's media are cached for good (a key's bytes never change),
        others privately and revalidated; `If-None-Match` → 304."""
        found = self.media.read_media(key, request.headers.get("If-None-Match"))
        headers = {"ETag": found["etag"], "Cache-Control": found["cache_control"]}
        if found.get("not_modified"):
            return bytes_response(b"", None, headers, status=304)
        return bytes_response(base64.b64decode(found["content"]), found["content_type"], headers)

    # role invites and teams

    @route("POST", "/v1/events/{event}/role-invites", summary="Invite an email to a role "
           "(organizer+; an owner invite: the owner)", body=InviteIn,
           responses={201: Invite}, tag="roles")
    def create_invite(self, request, actor, event):
        """The invitee is mailed a link to accept or decline; 429 past
        `RATE_LIMIT_INVITE` for the event."""
        data = self._json(request, InviteIn)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        self.rate_limits.invite(found["id"])
        return json_response(self.roles.create_invite(found["id"], data), 201)

    @route("GET", "/v1/events/{event}/role-invites", summary="The event's invites "
           "(coorganizer+)", query=Page, responses={200: page_of(Invite)}, tag="roles")
    def list_invites(self, request, actor, event):
        window = query(request, Page)
        found = self._event(actor, event, Permission.IS_COORGANIZER)
        return json_response(self.roles.list_invites(found["id"], **window))

    @route("GET", "/v1/role-invites/{invite_id}", summary="An invite (the invitee or "
           "coorganizer+)", responses={200: Invite}, tag="roles")
    def get_invite(self, request, actor, invite_id):
        return json_response(self.roles.get_invite(invite_id))

    @route("PATCH", "/v1/role-invites/{invite_id}", summary="Accept or decline (the "
           "invitee), or amend role and email (organizer+)", body=InviteUpdate,
           responses={200: Invite}, tag="roles")
    def update_invite(self, request, actor, invite_id):
        data = self._json(request, InviteUpdate)
        return json_response(self.roles.update_invite(invite_id, data))

    @route("POST", "/v1/role-invites/accept", summary="Accept or decline an invite by its "
           "mailed token (the verified invitee)", body=InviteAnswer, responses={200: Invite},
           tag="roles")
    def answer_invite(self, request, actor):
        """`status` is `accepted` unless sent as `declined`. 404 for a token
        no invite has (or a later link replaced), 409 once it is answered
        or expired, 403 for anyone but the invitee, verified."""
        data = self._json(request, InviteAnswer)
        return json_response(self.roles.respond_to_invite(data["token"],
                                                          data.get("status", "accepted")))

    @route("POST", "/v1/role-invites/{invite_id}/resend", summary="Mail a fresh link; the "
           "old one stops working (organizer+)", responses={202: Invite}, tag="roles")
    def resend_invite(self, request, actor, invite_id):
        """The invite's expiry starts again; 409 once it is answered or expired."""
        return json_response(self.roles.resend_invite(invite_id), 202)

    @route("DELETE", "/v1/role-invites/{invite_id}", summary="Withdraw an invite "
           "(organizer+); 409 once accepted", responses={204: None}, tag="roles")
    def delete_invite(self, request, actor, invite_id):
        self.roles.delete_invite(invite_id)
        return no_content()

    @route("PATCH", "/v1/events/{event}/roles/{user_id}", summary="Give a member another "
           "role (organizer+; never owner, never the owner's)", body=RoleChange,
           responses={200: TeamMember}, tag="roles")
    def change_role(self, request, actor, event, user_id):
        """It holds from the next request on, on every gateway process."""
        data = self._json(request, RoleChange)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.roles.change_role(found["id"], user_id, data["role"]))

    @route("DELETE", "/v1/events/{event}/roles/{user_id}", summary="Remove a member "
           "(organizer+), or leave the team (yourself); never the owner",
           responses={204: None}, tag="roles")
    def remove_member(self, request, actor, event, user_id):
        """Their pending invites to the event are withdrawn; their next
        request is refused, on every gateway process."""
        found = self._event(actor, event, Permission.IS_TEAM_MEMBER)
        self.roles.remove_member(found["id"], user_id)
        return no_content()

    @route("GET", "/v1/events/{event}/roles", summary="The event's team (coorganizer+)",
           query=Page, responses={200: page_of(TeamMember)}, tag="roles")
    def list_team(self, request, actor, event):
        window = query(request, Page)
        found = self._event(actor, event, Permission.IS_COORGANIZER)
        team = self.roles.list_event_roles(found["id"])
        start, end = window["offset"], window["offset"] + window["limit"]
        return json_response({"items": team[start:end], "total": len(team), **window})

    # webhooks

    @route("POST", "/v1/events/{event}/webhooks", summary="Post the event's messages to a URL "
           "(organizer+)", body=WebhookIn, responses={201: NewWebhook}, tag="webhooks")
    def create_webhook(self, request, actor, event):
        """The answer holds the signing secret (`whsec_…`), shown this once.
        422 `unsafe_url` for a URL not `https://` or whose host resolves to
        a non-public address (docs/integrations.md)."""
        data = self._json(request, WebhookIn)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.webhooks.create_webhook(found["id"], data), 201,
                             headers=NO_STORE)

    @route("GET", "/v1/events/{event}/webhooks", summary="The event's webhooks (organizer+)",
           query=Page, responses={200: page_of(Webhook)}, tag="webhooks")
    def list_webhooks(self, request, actor, event):
        window = query(request, Page)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.webhooks.list_webhooks(found["id"], **window))

    @route("GET", "/v1/events/{event}/webhooks/{webhook_id}", summary="A webhook "
           "(organizer+)", responses={200: Webhook}, tag="webhooks")
    def get_webhook(self, request, actor, event, webhook_id):
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.webhooks.get_webhook(found["id"], webhook_id))

    @route("PATCH", "/v1/events/{event}/webhooks/{webhook_id}", summary="Change a webhook's "
           "URL, events, description, or enable it again (organizer+)", body=WebhookUpdate,
           responses={200: Webhook}, tag="webhooks")
    def update_webhook(self, request, actor, event, webhook_id):
        data = self._json(request, WebhookUpdate)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.webhooks.update_webhook(found["id"], webhook_id, data))

    @route("DELETE", "/v1/events/{event}/webhooks/{webhook_id}", summary="Delete a webhook "
           "and its delivery log (organizer+)", responses={204: None}, tag="webhooks")
    def delete_webhook(self, request, actor, event, webhook_id):
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        self.webhooks.delete_webhook(found["id"], webhook_id)
        return no_content()

    @route("POST", "/v1/events/{event}/webhooks/{webhook_id}/test", summary="Send the "
           "webhook a `webhook.ping` (organizer+)", responses={202: Delivery}, tag="webhooks")
    def test_webhook(self, request, actor, event, webhook_id):
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.webhooks.test_webhook(found["id"], webhook_id), 202)

    @route("GET", "/v1/events/{event}/webhooks/{webhook_id}/deliveries", summary="The "
           "webhook's deliveries, newest first, each with its attempts (organizer+)",
           query=Page, responses={200: page_of(Delivery)}, tag="webhooks")
    def list_deliveries(self, request, actor, event, webhook_id):
        window = query(request, Page)
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(self.webhooks.list_deliveries(found["id"], webhook_id, **window))

    @route("POST", "/v1/events/{event}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
           summary="Send a delivery again now, with the same `webhook-id` (organizer+)",
           responses={202: Delivery}, tag="webhooks")
    def retry_delivery(self, request, actor, event, webhook_id, delivery_id):
        found = self._event(actor, event, Permission.IS_ORGANIZER)
        return json_response(
            self.webhooks.retry_delivery(found["id"], webhook_id, delivery_id), 202)

    # operations

    @Route.decorator("GET", "/v1/health", summary="Whether every service, its database and "
                     "the broker answer; each one's state to an admin", auth="optional",
                     responses={200: Health, 503: Health}, tag="operations")
    def health(self, request, actor):
        """Up or down to anyone; `services` only to an admin. A bare `Route`:
        the token's sign-in is asked here, with the admin flag, so that a
        roles service that cannot say still gives an up or down answer."""
        timeout = self.settings.HEALTH_TIMEOUT
        checks = dict(GreenPool().imap(lambda name: (name, self._health(name, timeout)),
                                       SERVICES))
        healthy = all(check["status"] == "ok" for check in checks.values())
        answer = {"status": "ok" if healthy else "unavailable"}
        if checks["roles"]["status"] == "ok" and self._is_admin(actor, request, timeout):
            answer["services"] = checks
        return json_response(answer, 200 if healthy else 503)

    @route("GET", "/v1/openapi.json", summary="This document", auth="none",
           responses={200: None}, tag="operations")
    def openapi(self, request, actor):
        return json_response(_document())

    @route("GET", "/v1/asyncapi.json", summary="The AsyncAPI document of the messages on the "
           "broker (docs/integrations.md)", auth="none", responses={200: None}, tag="operations")
    def asyncapi(self, request, actor):
        return json_response(_asyncapi())

    # helpers

    def _has_access(self, user_id, permission, event_id):
        return self.reads.has_access(self.roles, user_id, permission, event_id)

    def _event(self, actor, ref, permission):
        """The event `ref`, once the actor passes `permission` on it."""
        event = self.reads.event(self.events, ref)
        access.require(self._has_access, actor, permission, event)
        return event

    def _child(self, actor, kind, child_id, permission):
        child = self.events.get_child(kind, child_id)
        access.require(self._has_access, actor, permission, {"id": child["event_id"]})
        return child

    def _await_team(self, event_id):
        """Until the roles service has put the event's team in place, asked
        in short waits so that none holds a roles worker for long."""
        deadline = time.monotonic() + self.settings.GRANT_TIMEOUT
        while True:
            try:
                return self.roles.await_event(event_id, AWAIT_SLICE_SECONDS)
            except EventNotReady:
                if time.monotonic() >= deadline:
                    raise

    def _json(self, request, schema, required=True):
        return json_body(request, schema, required)

    def _image(self, request):
        content = raw_body(request)
        return base64.b64encode(content).decode()

    def _media_change(self, change):
        return json_response({"event_id": change["event_id"], "media": change["media"]})

    def _is_admin(self, actor, request, timeout):
        """Whether the token's sign-in is on and its user an admin; no when
        the roles service cannot say."""
        if actor is None:
            return False
        roles = self.roles.within(timeout)
        try:
            roles.check_session(actor, request.session_id)
            return roles.has_access(actor, Permission.IS_ADMIN, None)
        except Exception:  # signed out, or roles away: the anonymous answer
            return False

    def _health(self, service, timeout):
        try:
            answer = getattr(self, service).within(timeout).health()
        except Exception as exc:  # any failure is an answer here: "unavailable"
            return {"status": "unavailable", "detail": str(exc) or type(exc).__name__}
        return {"status": "ok", "database": answer["database"], "broker": "ok"}


@cache
def _document():
    return document(GatewayService)


@cache
def _asyncapi():
    return asyncapi_document()
