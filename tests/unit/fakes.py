"""Hand-written stand-ins for the events, roles and media services, each a
subclass of its RPC Protocol (contracts.<service>.rpc) with the same
signatures (test_fakes checks), a small in-memory state and the errors
the contract names. What one service would learn from another's messages
(a new event's owner, a copy's team) happens at once.

`fail(method, error)` makes a method raise `error` from then on, as the
service would (an outage, a failed copy)."""
import base64
import hashlib
import itertools
import secrets
import uuid
from datetime import UTC, datetime

from contracts.errors import AccessDenied, EventNotFound
from contracts.events.errors import ChildNotFound, IdempotencyKeyReused, InvalidEventData
from contracts.events.rpc import EventsRpc
from contracts.events.schemas import MAX_LISTED_EVENTS, PUBLIC_SESSION_STATES, PUBLIC_VIEWS
from contracts.media.errors import InvalidImage, MediaNotFound
from contracts.media.rpc import MediaRpc
from contracts.notifications.rpc import NotificationsRpc
from contracts.powers import CHILD_POWERS, PERMISSIONS, holders
from contracts.roles.errors import (
    EmailAlreadyVerified,
    EmailNotVerified,
    EmailTaken,
    EventNotReady,
    InvalidCredentials,
    InvalidLink,
    InviteClosed,
    InviteNotFound,
    MailNotDue,
    MemberNotFound,
    OwnerRoleFixed,
    SessionEnded,
    UserNotFound,
    WrongPassword,
)
from contracts.roles.rpc import RolesRpc
from contracts.vocabulary import ROLES, Permission, Role
from contracts.webhooks.errors import DeliveryNotFound, WebhookNotFound
from contracts.webhooks.rpc import WebhooksRpc
from services.roles.invites import manager_permission
from shared.actors import ACTOR_KEY, DEVELOPMENT_PUBLIC_KEY, ActorVerifier
from shared.context import REQUEST_ID_KEY
from tests.support.services import proof_of

CREATED_AT = "2030-01-01T00:00:00Z"
PNG = b"\x89PNG\r\n\x1a\n"


VERIFIER = ActorVerifier(DEVELOPMENT_PUBLIC_KEY)


class Acting:
    """What a worker is given: the fake, told the context of the call (so it
    takes the actor from the call's proof, as the services do)."""

    def __init__(self, fake, context):
        self._fake, self._context = fake, context

    def __getattr__(self, name):
        attribute = getattr(self._fake, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            self._fake.context = self._context
            return attribute(*args, **kwargs)
        return call


class Fake:
    context = {}

    @property
    def actor_id(self):
        """The actor the current call proves (shared.actors)."""
        return VERIFIER.user_id(self.context.get(ACTOR_KEY), self.context.get(REQUEST_ID_KEY))

    def acting(self, user_id):
        """The fake as a call proving `user_id` acts sees it (for a test's
        own set-up calls)."""
        return Acting(self, proof_of(user_id))

    def fail(self, method, error):
        """From now on `method` raises `error`."""
        def failing(*args, **kwargs):
            raise error
        setattr(self, method, failing)

    def within(self, timeout):
        """As `shared.rpc`'s proxy: the same service, answering in time."""
        return self

    def health(self):
        return {"service": self.name, "database": "ok"}


def page(items, limit, offset):
    return {"items": items[offset:offset + limit], "total": len(items), "limit": limit,
            "offset": offset}


class FakeRoles(Fake, RolesRpc):
    name = "roles"

    def __init__(self):
        self.users = {}  # id -> user, with its password
        self.team = {}  # (event id, user id) -> role
        self.invites = {}  # id -> invite, with its token
        self.sessions = {}  # session id -> user id, while on
        self.links = {}  # verification or reset token -> (purpose, user id)
        self.asked = []  # (what, user id): the mails asked for, in order
        self._ids = itertools.count(1)

    # arranging a test

    def add_user(self, name, is_admin=False, password="correct horse", email=None,
                 verified=True):
        user_id = next(self._ids)
        self.users[user_id] = {"id": user_id, "email": email or f"{name}@example.org",
                               "name": name, "is_admin": is_admin, "email_verified": verified,
                               "created_at": CREATED_AT, "password": password}
        return user_id

    def session_of(self, user_id):
        """A sign-in of the user, as `sign_in` makes one."""
        session_id = secrets.token_urlsafe(8)
        self.sessions[session_id] = user_id
        return session_id

    def grant(self, user_id, event_id, role):
        self.team[event_id, user_id] = role

    def copy_team(self, source_id, event_id):
        for (team_event, user_id), role in list(self.team.items()):
            if team_event == source_id:
                self.grant(user_id, event_id, role)

    # the contract

    def sign_up(self, data):
        email = data["email"].lower()
        if any(user["email"] == email for user in self.users.values()):
            raise EmailTaken(f"{email} is signed up already")
        user_id = self.add_user(data["name"], password=data["password"], email=email,
                                verified=False)
        self.asked.append(("verify_email", user_id))
        return self.get_user(user_id)

    def sign_in(self, email, password, lifetime_seconds):
        for user in self.users.values():
            if user["email"] == email.lower() and user["password"] == password:
                return {"user": self.get_user(user["id"]),
                        "session_id": self.session_of(user["id"])}
        raise InvalidCredentials("wrong email or password")

    def check_session(self, user_id, session_id):
        if self.sessions.get(session_id) != user_id:
            raise SessionEnded("the sign-in has ended")
        return True

    def end_session(self, session_id):
        if self.sessions.get(session_id) == self.actor_id:
            del self.sessions[session_id]

    def update_me(self, data, session_id):
        user = self.users[self.actor_id]
        if "password" in data:
            if data["current_password"] != user["password"]:
                raise WrongPassword("the current password is not right")
            user["password"] = data["password"]
            self._end_sessions(user["id"], keep=session_id)
        user.update({k: v for k, v in data.items() if k == "name"})
        return self.get_user(user["id"])

    def verify_email(self, token):
        user_id = self._use_link(token, "verify_email")
        self.users[user_id]["email_verified"] = True
        return self.get_user(user_id)

    def request_verification(self):
        if self.users[self.actor_id]["email_verified"]:
            raise EmailAlreadyVerified("your email is verified already")
        self.asked.append(("verify_email", self.actor_id))
        return {"requested": True}

    def request_password_reset(self, email):
        for user in self.users.values():
            if user["email"] == email.lower():
                self.asked.append(("password_reset", user["id"]))
        return {"requested": True}

    def reset_password(self, token, password):
        user_id = self._use_link(token, "password_reset")
        self.users[user_id]["password"] = password
        self._end_sessions(user_id)
        return {"reset": True}

    def verification_mail(self, user_id):
        return self._mail(user_id, "verify_email")

    def password_reset_mail(self, user_id):
        return self._mail(user_id, "password_reset")

    def invite_mail(self, invite_id):
        invite = self._invite(invite_id)
        if invite["status"] != "pending":
            raise MailNotDue(f"the invite is {invite['status']}")
        invite["token"] = secrets.token_urlsafe(8)
        return {"to": invite["email"], "name": None, "token": invite["token"],
                "expires_at": invite["expires_at"], "event_name": invite["event_name"],
                "inviter_name": invite["inviter_name"], "role": invite["role"]}

    def owner_mail(self, event_id):
        owner = next((user_id for (event, user_id), role in self.team.items()
                      if event == event_id and role == Role.OWNER), None)
        if owner is None:
            raise EventNotFound(f"no event {event_id}")
        user = self.users[owner]
        return {"to": user["email"], "name": user.get("name"), "event_name": f"Event {event_id}"}

    def get_user(self, user_id):
        if user_id not in self.users:
            raise UserNotFound(f"no user {user_id}")
        return {k: v for k, v in self.users[user_id].items() if k != "password"}

    def set_admin(self, user_id, is_admin):
        actor_id = self.actor_id
        self._require(actor_id, Permission.IS_ADMIN, None)
        self.get_user(user_id)
        self.users[user_id]["is_admin"] = is_admin
        return self.get_user(user_id)

    def has_access(self, user_id, permission, event_id):
        user = self.users.get(user_id)
        return user is not None and (
            user["is_admin"] or self.team.get((event_id, user_id)) in PERMISSIONS[permission])

    def list_event_roles(self, event_id):
        team = [{"user_id": user_id, "email": self.users[user_id]["email"], "role": role}
                for (team_event, user_id), role in self.team.items() if team_event == event_id]
        return sorted(team, key=lambda member: (ROLES.index(member["role"]), member["email"]))

    def change_role(self, event_id, user_id, role):
        self._require(self.actor_id, Permission.IS_ORGANIZER, event_id)
        self._refuse_owner(event_id, user_id)
        self.grant(user_id, event_id, role)
        return {"user_id": user_id, "email": self.users[user_id]["email"], "role": role}

    def remove_member(self, event_id, user_id):
        if user_id != self.actor_id:
            self._require(self.actor_id, Permission.IS_ORGANIZER, event_id)
        self._refuse_owner(event_id, user_id)
        del self.team[event_id, user_id]
        return {"event_id": event_id, "user_id": user_id, "removed": True}

    def list_my_events(self, role=None):
        return [{"event_id": event_id, "role": held}
                for (event_id, user_id), held in self.team.items()
                if user_id == self.actor_id and role in (None, held)]

    def await_event(self, event_id, timeout=None):
        if not any(team_event == event_id for team_event, _ in self.team):
            raise EventNotReady(f"event {event_id}'s team is not in place yet")
        return {"event_id": event_id, "ready": True}

    def create_invite(self, event_id, data):
        actor_id = self.actor_id
        self._require(actor_id, manager_permission(data["role"]), event_id)
        invite_id = next(self._ids)
        self.invites[invite_id] = {"id": invite_id, "event_id": event_id, "email": data["email"],
                                   "role": data["role"], "status": "pending",
                                   "expires_at": CREATED_AT, "event_name": f"event {event_id}",
                                   "inviter_name": self.users[actor_id]["name"], "token": None}
        return self._shown(invite_id)

    def list_my_invites(self, status=None, limit=None, offset=None):
        user = self.users[self.actor_id]
        if not user["email_verified"]:
            raise EmailNotVerified("verify your email first")
        invites = [self._shown(invite_id) for invite_id in sorted(self.invites, reverse=True)
                   if self.invites[invite_id]["email"] == user["email"]
                   and status in (None, self.invites[invite_id]["status"])]
        return page(invites, 50 if limit is None else limit, offset or 0)

    def resend_invite(self, invite_id):
        invite = self._invite(invite_id)
        self._require(self.actor_id, manager_permission(invite["role"]), invite["event_id"])
        if invite["status"] != "pending":
            raise InviteClosed(f"the invite is {invite['status']}")
        invite["token"] = None
        return self._shown(invite_id)

    def list_invites(self, event_id, limit=None, offset=None):
        actor_id = self.actor_id
        self._require(actor_id, Permission.IS_COORGANIZER, event_id)
        invites = [self._shown(invite_id) for invite_id in sorted(self.invites, reverse=True)
                   if self.invites[invite_id]["event_id"] == event_id]
        return page(invites, 50 if limit is None else limit, offset or 0)

    def get_invite(self, invite_id):
        actor_id = self.actor_id
        invite = self._invite(invite_id)
        if not self._is_invitee(actor_id, invite):
            self._require(actor_id, Permission.IS_COORGANIZER, invite["event_id"])
        return self._shown(invite_id)

    def update_invite(self, invite_id, data):
        actor_id = self.actor_id
        invite = self._invite(invite_id)
        if "status" in data:
            return self._answer(actor_id, invite, data["status"])
        self._require(actor_id, manager_permission(invite["role"], data.get("role")),
                      invite["event_id"])
        invite.update(data)
        return self._shown(invite_id)

    def respond_to_invite(self, token, status):
        actor_id = self.actor_id
        for invite in self.invites.values():
            if invite["token"] is not None and invite["token"] == token:
                return self._answer(actor_id, invite, status)
        raise InviteNotFound("no invite has this token")

    def delete_invite(self, invite_id):
        actor_id = self.actor_id
        invite = self._invite(invite_id)
        self._require(actor_id, manager_permission(invite["role"]), invite["event_id"])
        if invite["status"] == "accepted":
            raise InviteClosed("an accepted invite cannot be deleted")
        del self.invites[invite_id]
        return {"id": invite_id, "deleted": True}

    def _answer(self, actor_id, invite, status):
        if not self._is_invitee(actor_id, invite):
            raise AccessDenied("only the invitee can accept or decline an invite")
        if not self.users[actor_id]["email_verified"]:
            raise EmailNotVerified("verify your email first")
        if invite["status"] != "pending":
            raise InviteClosed(f"the invite is {invite['status']}")
        invite["status"] = status
        if status == "accepted":
            self.grant(actor_id, invite["event_id"], invite["role"])
        return {**self._shown(invite["id"]), "role_granted": status == "accepted"}

    def _refuse_owner(self, event_id, user_id):
        if (event_id, user_id) not in self.team:
            raise MemberNotFound(f"user {user_id} is not on event {event_id}'s team")
        if self.team[event_id, user_id] == Role.OWNER:
            raise OwnerRoleFixed("the owner's role is not changed this way")

    def _require(self, actor_id, permission, event_id):
        if not self.has_access(actor_id, permission, event_id):
            raise AccessDenied(f"you need to be {holders(permission)} of event {event_id}")

    def _invite(self, invite_id):
        if invite_id not in self.invites:
            raise InviteNotFound(f"no invite {invite_id}")
        return self.invites[invite_id]

    def _is_invitee(self, actor_id, invite):
        return actor_id in self.users and self.users[actor_id]["email"] == invite["email"]

    def _shown(self, invite_id):
        return {k: v for k, v in self.invites[invite_id].items() if k != "token"}

    def _mail(self, user_id, purpose):
        user = self.get_user(user_id)
        if purpose == "verify_email" and user["email_verified"]:
            raise MailNotDue("the email is verified already")
        token = secrets.token_urlsafe(8)
        self.links = {t: link for t, link in self.links.items() if link != (purpose, user_id)}
        self.links[token] = (purpose, user_id)
        return {"to": user["email"], "name": user["name"], "token": token,
                "expires_at": CREATED_AT}

    def _use_link(self, token, purpose):
        if self.links.get(token, (None,))[0] != purpose:
            raise InvalidLink("the link is not valid: ask for a new one")
        return self.links.pop(token)[1]

    def _end_sessions(self, user_id, keep=None):
        self.sessions = {session_id: owner for session_id, owner in self.sessions.items()
                         if owner != user_id or session_id == keep}


class FakeEvents(Fake, EventsRpc):
    """Events and their children; `copies` records each `copy_event` call
    as the gateway made it."""

    name = "events"

    def __init__(self, roles):
        self.roles = roles
        self.events = {}  # id -> event
        self.children = {}  # (kind, id) -> child
        self.copies = []
        self._keys = {}  # (actor id, idempotency key) -> (source id, answer)
        self._ids = itertools.count(1)

    def create_event(self, data):
        return self._new_event(self.actor_id, data)

    def _new_event(self, actor_id, data):
        event_id = next(self._ids)
        self.events[event_id] = {
            "state": "draft", "privacy": "public", "timezone": "UTC", **data, "id": event_id,
            "identifier": f"ev{event_id:06d}", "owner_id": actor_id, "copied_from_id": None,
            "created_at": CREATED_AT,
        }
        self.roles.grant(actor_id, event_id, Role.OWNER)  # event.created, handled
        return self.get_event(event_id)

    def get_event(self, ref):
        for event in self.events.values():
            if str(ref) in (str(event["id"]), event["identifier"]):
                return dict(event)
        raise EventNotFound(f"no event {ref!r}")

    def update_event(self, ref, data):
        actor_id = self.actor_id
        event = self._changed_by(actor_id, ref)
        self.events[event["id"]].update(data)
        return self.get_event(event["id"])

    def delete_event(self, ref):
        actor_id = self.actor_id
        event = self._changed_by(actor_id, ref, Permission.IS_OWNER)
        del self.events[event["id"]]
        return {"id": event["id"], "deleted": True}

    def create_child(self, ref, kind, data):
        actor_id = self.actor_id
        event = self._changed_by(actor_id, ref, CHILD_POWERS[kind].write)
        child_id = next(self._ids)
        self.children[kind, child_id] = {**data, "id": child_id, "event_id": event["id"],
                                         "created_at": CREATED_AT}
        return self.get_child(kind, child_id)

    def list_children(self, ref, kind, limit=50, offset=0, public=False):
        event = self.get_event(ref)
        if public and kind not in PUBLIC_VIEWS:
            raise InvalidEventData(f"{kind} have no public view")
        items = [self._shown(kind, child, public)
                 for (child_kind, _), child in sorted(self.children.items())
                 if child_kind == kind and child["event_id"] == event["id"]
                 and (not public or self._is_public(kind, child))]
        return page(items, limit, offset)

    def get_child(self, kind, child_id, public=False):
        child = self.children.get((kind, child_id))
        if child is None or public and not self._is_public(kind, child):
            raise ChildNotFound(f"no {kind} {child_id}")
        return self._shown(kind, child, public)

    def list_events(self, event_ids, state=None, q=None, limit=50, offset=0):
        if len(event_ids) > MAX_LISTED_EVENTS:
            raise InvalidEventData(f"at most {MAX_LISTED_EVENTS} event ids")
        return self._listed(lambda event: event["id"] in event_ids
                            and state in (None, event["state"]), q, limit, offset)

    def list_public_events(self, q=None, limit=50, offset=0):
        return self._listed(lambda event: (event["state"], event["privacy"])
                            == ("published", "public"), q, limit, offset)

    def update_child(self, kind, child_id, data):
        actor_id = self.actor_id
        self._changed_by(actor_id, self.get_child(kind, child_id)["event_id"],
                         CHILD_POWERS[kind].to_update(data))
        self.children[kind, child_id].update(data)
        return self.get_child(kind, child_id)

    def delete_child(self, kind, child_id):
        actor_id = self.actor_id
        self._changed_by(actor_id, self.get_child(kind, child_id)["event_id"],
                         CHILD_POWERS[kind].write)
        del self.children[kind, child_id]
        return {"id": child_id, "deleted": True}

    def copy_event(self, ref, name=None, include=(), idempotency_key=None):
        actor_id = self.actor_id
        self.copies.append({"ref": ref, "actor_id": actor_id, "name": name,
                            "include": include, "idempotency_key": idempotency_key})
        source = self._changed_by(actor_id, ref, Permission.IS_COORGANIZER)
        if (actor_id, idempotency_key) in self._keys:
            source_id, answer = self._keys[actor_id, idempotency_key]
            if source_id != source["id"]:
                raise IdempotencyKeyReused("this Idempotency-Key copied another event")
            return answer
        copy = self._new_event(source["owner_id"], {**source, "name": name or source["name"]})
        self.events[copy["id"]].update(state="draft", copied_from_id=source["id"])
        self.roles.copy_team(source["id"], copy["id"])  # event.copied, handled
        answer = {"id": copy["id"], "identifier": copy["identifier"], "copied": True,
                  "copied_from": {"id": source["id"], "identifier": source["identifier"]}}
        if idempotency_key is not None:
            self._keys[actor_id, idempotency_key] = source["id"], answer
        return answer

    def apply_media_urls(self, event_id, media_version, event_urls, sponsor_urls):
        self.events[self.get_event(event_id)["id"]].update(event_urls)
        return True

    def _listed(self, wanted, q, limit, offset):
        """The events `wanted` whose name contains `q`, by start then id."""
        found = [dict(event) for event in self.events.values() if wanted(event)
                 and (q or "").casefold() in event["name"].casefold()]
        found.sort(key=lambda event: (datetime.fromisoformat(event["starts_at"]), event["id"]))
        return page(found, limit, offset)

    def _is_public(self, kind, child):
        """Whether the child is in its kind's public view (`PUBLIC_VIEWS`)."""
        if kind == "sessions":
            return child.get("state") in PUBLIC_SESSION_STATES
        if kind == "speakers":
            return any(child["id"] in session.get("speaker_ids", ())
                       and self._is_public("sessions", session)
                       for (other, _), session in self.children.items() if other == "sessions")
        if kind == "speakers-calls":
            return child.get("privacy") != "private"
        return kind in PUBLIC_VIEWS

    @staticmethod
    def _shown(kind, child, public):
        """The child, with only the fields of its public answer if `public`."""
        fields = PUBLIC_VIEWS[kind].answer.model_fields if public else child
        return {name: value for name, value in child.items() if name in fields}

    def _changed_by(self, actor_id, ref, permission=Permission.IS_ORGANIZER):
        """The event `ref`, once `actor_id` passes `permission` on it."""
        event = self.get_event(ref)
        if not self.roles.has_access(actor_id, permission, event["id"]):
            raise AccessDenied(f"you need to be {holders(permission)} of event {event['id']}")
        return event


class FakeMedia(Fake, MediaRpc):
    """PNG images only, kept by the SHA-256 of their bytes."""

    name = "media"

    def __init__(self):
        self.files = {}  # key -> bytes
        self.owners = {}  # (event id, slot) or ("sponsor", id) -> key

    def upload_event_image(self, event_ref, slot, content):
        self.actor_id  # noqa: B018  (a change needs a proven actor)
        return {"event_id": event_ref, "media": [self._store((event_ref, slot), slot, content)],
                "event_updated": True}

    def upload_sponsor_logo(self, sponsor_id, content):
        self.actor_id  # noqa: B018  (a change needs a proven actor)
        record = self._store(("sponsor", sponsor_id), "logo", content)
        return {"event_id": None, "media": [record], "event_updated": False}

    def delete_event_image(self, event_ref, slot):
        self.actor_id  # noqa: B018  (a change needs a proven actor)
        return {"deleted": self.owners.pop((event_ref, slot), None) is not None}

    def delete_sponsor_logo(self, sponsor_id):
        self.actor_id  # noqa: B018  (a change needs a proven actor)
        return {"deleted": self.owners.pop(("sponsor", sponsor_id), None) is not None}

    def list_event_media(self, event_id):
        return {"event_id": event_id, "event_urls": {}, "sponsor_urls": {}, "media": []}

    def read_media(self, key, if_none_match=None):
        if key not in self.files:
            raise MediaNotFound(f"no media {key!r}")
        etag = f'"{key}"'
        cached = {"etag": etag, "cache_control": "public, max-age=31536000, immutable"}
        if if_none_match == etag:
            return {"not_modified": True, **cached}
        content = self.files[key]
        return {**cached, "content_type": "image/png", "size": len(content),
                "content": base64.b64encode(content).decode()}

    def _store(self, owner, slot, content):
        """The media record of `content` (base64), now `owner`'s."""
        data = base64.b64decode(content)
        if not data.startswith(PNG):
            raise InvalidImage("not a PNG image")
        key = hashlib.sha256(data).hexdigest()
        self.files[key], self.owners[owner] = data, key
        return {"id": len(self.files), "slot": slot, "url": f"http://media.test/media/{key}",
                "content_type": "image/png", "size": len(data)}


class FakeNotifications(Fake, NotificationsRpc):
    """The mailer's only method is its health."""

    name = "notifications"


class FakeWebhooks(Fake, WebhooksRpc):
    """Webhooks kept in memory; nothing is delivered: a ping or a retry is
    a pending delivery without attempts."""

    name = "webhooks"

    def __init__(self, roles):
        self.roles, self.hooks, self.deliveries = roles, {}, {}

    def create_webhook(self, event_id, data):
        self._require(event_id)
        hook_id = len(self.hooks) + 1
        self.hooks[hook_id] = {
            "id": hook_id, "event_id": event_id, "url": data["url"], "events": data["events"],
            "description": data.get("description", ""), "enabled": True,
            "failing_since": None, "disabled_reason": None, "created_at": _now()}
        return {**self.hooks[hook_id], "secret": "whsec_" + base64.b64encode(
            secrets.token_bytes(24)).decode()}

    def list_webhooks(self, event_id, limit=None, offset=None):
        self._require(event_id)
        hooks = [hook for hook in self.hooks.values() if hook["event_id"] == event_id]
        return page(hooks, limit or 50, offset or 0)

    def get_webhook(self, event_id, webhook_id):
        self._require(event_id)
        hook = self.hooks.get(webhook_id)
        if hook is None or hook["event_id"] != event_id:
            raise WebhookNotFound(f"no webhook {webhook_id} of event {event_id}")
        return hook

    def update_webhook(self, event_id, webhook_id, data):
        self.get_webhook(event_id, webhook_id).update(data)
        return self.hooks[webhook_id]

    def delete_webhook(self, event_id, webhook_id):
        self.get_webhook(event_id, webhook_id)
        del self.hooks[webhook_id]

    def test_webhook(self, event_id, webhook_id):
        self.get_webhook(event_id, webhook_id)
        delivery_id = len(self.deliveries) + 1
        self.deliveries[delivery_id] = {
            "id": delivery_id, "webhook_id": webhook_id, "message_id": str(uuid.uuid4()),
            "type": "webhook.ping", "status": "pending", "next_attempt_at": _now(),
            "created_at": _now(), "attempts": []}
        return self.deliveries[delivery_id]

    def list_deliveries(self, event_id, webhook_id, limit=None, offset=None):
        self.get_webhook(event_id, webhook_id)
        mine = [delivery for delivery in reversed(self.deliveries.values())
                if delivery["webhook_id"] == webhook_id]
        return page(mine, limit or 50, offset or 0)

    def retry_delivery(self, event_id, webhook_id, delivery_id):
        self.get_webhook(event_id, webhook_id)
        delivery = self.deliveries.get(delivery_id)
        if delivery is None or delivery["webhook_id"] != webhook_id:
            raise DeliveryNotFound(f"no delivery {delivery_id} of webhook {webhook_id}")
        delivery.update(status="pending", next_attempt_at=_now())
        return delivery

    def _require(self, event_id):
        if not self.roles.has_access(self.actor_id, Permission.IS_ORGANIZER, event_id):
            raise AccessDenied(f"you need to be {holders(Permission.IS_ORGANIZER)} of event "
                               f"{event_id}")


def _now():
    return datetime.now(UTC).isoformat()
