"""The roles service: users, their roles on events, role invites and
permission checks.

Its RPC methods, their answers and errors are `contracts.roles.rpc`; the
messages it publishes `contracts.roles.messages`. An actor-scoped method
acts for the user the call proves (`shared.actors`: the gateway's signed
assertion, never an argument) and authorizes that user here; so do the
reads that reveal emails. Each change runs in one transaction; the
messages it announces go out through the outbox.

Password hashing (sign-up, sign-in, password change and reset) runs in a
bounded pool (`passwords`): a flood of sign-ins holds a few workers and is
refused beyond them (`PasswordsBusy`), never the workers that answer
`has_access` and `check_session`.

Mailed links: the messages announce what is due (an invite, a
verification, a reset) and carry no token; the notifications service asks
`invite_mail`, `verification_mail` or `password_reset_mail` for the link
when it sends the mail, and that answer alone carries the token (`links`).
`owner_mail` answers whom to tell of an event's webhook disabled (no link).

Team management (`members`): an organizer+ changes or removes a member,
a member leaves; each takes effect at the member's next request, since
every check reads the roles as they are.

Read-your-writes: accepting an invite grants the role before it answers,
through the same inbox-guarded step as the handler of `invite.accepted`
(exactly once, whichever runs first). After creating or copying an event,
callers call `await_event` before they answer theirs, so the creator's
next request finds their role.
"""
import logging
from datetime import timedelta

from sqlalchemy import text

from contracts.errors import EventNotFound
from contracts.events.messages import EventCopied, EventCreated, EventDeleted
from contracts.roles.errors import (
    EventNotReady,
    InviteNotFound,
    MailNotDue,
    PasswordsBusy,
    UserNotFound,
)
from contracts.roles.messages import InviteAccepted
from contracts.vocabulary import Permission
from services.roles import access, invites, members, resets, sessions, team, users, verification
from services.roles.passwords import Passwords
from services.roles.settings import RolesSettings
from shared.actors import Actor
from shared.context import RequestContext
from shared.db import Database
from shared.errors import ServiceError
from shared.handlers import consume
from shared.inbox import apply_once
from shared.metrics import Metrics
from shared.relay import OutboxRelay
from shared.rpc import Rpc, rpc
from shared.settings import Settings
from shared.tracing import Tracing
from shared.waiting import wait_for

log = logging.getLogger(__name__)

# a mail lookup's ordinary "no": logged as a warning, not an error
NOTHING_DUE = (MailNotDue, InviteNotFound, UserNotFound, EventNotFound)


class RolesService:
    name = "roles"

    db = Database()
    relay = OutboxRelay()
    request_context = RequestContext()
    tracing = Tracing()
    metrics = Metrics()
    actor = Actor()
    passwords = Passwords()
    events = Rpc("events")
    settings: RolesSettings = Settings(RolesSettings)

    # users

    @rpc(callers=("gateway",), expected_exceptions=PasswordsBusy)
    def sign_up(self, data):
        with self.db.transaction() as session:
            return users.sign_up(session, self.passwords, data)

    @rpc(callers=("gateway",), expected_exceptions=PasswordsBusy)
    def sign_in(self, email, password, lifetime_seconds):
        with self.db.transaction() as session:
            return users.sign_in(session, self.passwords, email, password, lifetime_seconds)

    @rpc(callers=("gateway",))
    def check_session(self, user_id, session_id):
        with self.db.transaction() as session:
            return sessions.check(session, user_id, session_id)

    @rpc(callers=("gateway",))
    def end_session(self, session_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            sessions.end(session, actor_id, session_id)

    @rpc
    def get_user(self, user_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return users.serialize_user(users.get_visible_user(session, actor_id, user_id))

    @rpc(callers=("gateway",))
    def set_admin(self, user_id, is_admin):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return users.set_admin(session, actor_id, user_id, is_admin)

    @rpc(callers=("gateway",), expected_exceptions=PasswordsBusy)
    def update_me(self, data, session_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return users.update_me(session, self.passwords, actor_id, data, session_id)

    @rpc(callers=("gateway",))
    def verify_email(self, token):
        with self.db.transaction() as session:
            return verification.verify_email(session, token)

    @rpc(callers=("gateway",))
    def request_verification(self):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return verification.request_verification(session, actor_id, self._mail_interval)

    @rpc(callers=("gateway",))
    def request_password_reset(self, email):
        with self.db.transaction() as session:
            return resets.request_password_reset(session, email, self._mail_interval)

    @rpc(callers=("gateway",), expected_exceptions=PasswordsBusy)
    def reset_password(self, token, password):
        with self.db.transaction() as session:
            return resets.reset_password(session, self.passwords, token, password)

    # permissions and teams

    @rpc(callers=("events", "media", "webhooks", "gateway"))
    def has_access(self, user_id, permission, event_id):
        with self.db.transaction() as session:
            return access.has_access(session, user_id, permission, event_id)

    @rpc
    def list_event_roles(self, event_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            access.require(session, actor_id, Permission.IS_COORGANIZER, event_id,
                           to="to see its team")
            return team.list_event_roles(session, event_id)

    @rpc(callers=("gateway",))
    def change_role(self, event_id, user_id, role):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return members.change_role(session, actor_id, event_id, user_id, {"role": role})

    @rpc(callers=("gateway",))
    def remove_member(self, event_id, user_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return members.remove_member(session, actor_id, event_id, user_id)

    @rpc(callers=("gateway",))
    def list_my_events(self, role=None):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return members.list_my_events(session, actor_id, role)

    @rpc(callers=("gateway",))
    def await_event(self, event_id, timeout=None):
        event_id = team.event_ref(event_id)
        timeout = self._grant_timeout if timeout is None else min(float(timeout),
                                                                  self._grant_timeout)
        if not wait_for(lambda: self._known(event_id), timeout):
            raise EventNotReady(f"event {event_id}'s team is not in place yet")
        return {"event_id": event_id, "ready": True}

    # invites

    @rpc(callers=("gateway",))
    def create_invite(self, event_id, data):
        actor_id = self.actor.id
        event_id = team.event_ref(event_id)
        event_name = self.events.get_event(event_id)["name"]  # before the transaction
        with self.db.transaction() as session:
            return invites.create_invite(session, actor_id, event_id, data, event_name,
                                         self._invite_ttl)

    @rpc(callers=("gateway",))
    def list_invites(self, event_id, limit=None, offset=None):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return invites.list_invites(session, actor_id, event_id, limit, offset)

    @rpc(callers=("gateway",))
    def list_my_invites(self, status=None, limit=None, offset=None):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return invites.list_my_invites(session, actor_id, status, limit, offset)

    @rpc(callers=("gateway",))
    def get_invite(self, invite_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return invites.get_invite(session, actor_id, invite_id)

    @rpc(callers=("gateway",))
    def update_invite(self, invite_id, data):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            invite, accepted = invites.update_invite(session, actor_id, invite_id, data)
        return self._granted(invite, accepted)

    @rpc(callers=("gateway",))
    def respond_to_invite(self, token, status):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            invite, accepted = invites.respond_by_token(session, actor_id, token, status)
        return self._granted(invite, accepted)

    @rpc(callers=("gateway",))
    def resend_invite(self, invite_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return invites.resend_invite(session, actor_id, invite_id, self._invite_ttl)

    @rpc(callers=("gateway",))
    def delete_invite(self, invite_id):
        actor_id = self.actor.id
        with self.db.transaction() as session:
            return invites.delete_invite(session, actor_id, invite_id)

    # what the notifications service asks when it mails a link: each mints
    # the link's token, which only the answer carries

    @rpc(callers=("notifications",), expected_exceptions=NOTHING_DUE)
    def invite_mail(self, invite_id):
        with self.db.transaction() as session:
            return invites.invite_mail(session, invite_id)

    @rpc(callers=("notifications",), expected_exceptions=NOTHING_DUE)
    def verification_mail(self, user_id):
        lifetime = timedelta(hours=self.settings.VERIFY_LINK_TTL_HOURS)
        with self.db.transaction() as session:
            return verification.verification_mail(session, user_id, lifetime)

    @rpc(callers=("notifications",), expected_exceptions=NOTHING_DUE)
    def password_reset_mail(self, user_id):
        lifetime = timedelta(minutes=self.settings.RESET_LINK_TTL_MINUTES)
        with self.db.transaction() as session:
            return resets.password_reset_mail(session, user_id, lifetime)

    @rpc(callers=("notifications",), expected_exceptions=NOTHING_DUE)
    def owner_mail(self, event_id):
        event_id = team.event_ref(event_id)
        with self.db.transaction() as session:
            owner = team.owner(session, event_id)
        return {**owner, "event_name": self.events.get_event(event_id)["name"]}

    # what other services announce, and our own acceptances: each handler
    # checks the message against this service's data first (`team`)

    @consume(EventCreated)
    def on_event_created(self, message):
        apply_once(self.db, self.name, message, team.on_event_created)

    @consume(EventCopied)
    def on_event_copied(self, message):
        apply_once(self.db, self.name, message, team.on_event_copied)

    @consume(EventDeleted)
    def on_event_deleted(self, message):
        apply_once(self.db, self.name, message, team.on_event_deleted)

    @consume(InviteAccepted)
    def on_invite_accepted(self, message):
        apply_once(self.db, self.name, message, team.on_invite_accepted)

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "database": "ok"}

    def _granted(self, invite, accepted):
        """Grant the accepted role now, through the inbox like the handler of
        `invite.accepted`: whichever of the two runs first grants it, the
        other finds it handled. The caller's next request sees the role."""
        if accepted is None:
            return invite
        try:
            apply_once(self.db, self.name, accepted, team.on_invite_accepted)
        except ServiceError:  # accepted all the same; the handler retries the grant
            log.warning("invite %s: role not granted yet", invite["id"], exc_info=True)
            return {**invite, "role_granted": False}
        return {**invite, "role_granted": True}

    def _known(self, event_id):
        with self.db.transaction() as session:
            return team.is_known(session, event_id)

    @property
    def _grant_timeout(self):
        return self.settings.GRANT_TIMEOUT

    @property
    def _invite_ttl(self):
        return timedelta(days=self.settings.INVITE_TTL_DAYS)

    @property
    def _mail_interval(self):
        return timedelta(seconds=self.settings.MAIL_INTERVAL_SECONDS)

