"""A stand-in for the roles service, for tests of the services that ask it
for permissions (events, media) or for mails (notifications) but are not
about either: a real nameko service named "roles", answering `has_access`,
`get_user` and the mail lookups over RPC from a `Policy` the test holds.
By default every user exists and passes every check, and every mail is
due. It logs in as the roles service's broker user and answers through
`shared.rpc`, as the real one does."""
import secrets

from contracts.errors import EventNotFound
from contracts.roles.errors import MailNotDue, UserNotFound
from shared.rpc import rpc

EXPIRES_AT = "2030-03-14T09:00:00+00:00"
INVITE = {"event_name": "Open Tech Summit", "inviter_name": "Olga Owner", "role": "organizer"}


class Policy:
    """What the stand-in answers: `refused` users pass no check, `unknown`
    users are not signed up (and pass no check either); a mail lookup
    (`invite_mail`, …) of `(lookup, id)` in `not_due` raises `MailNotDue`,
    any other mints a fresh token, which `minted` records in order as
    `(lookup, id, token)`. Users are `user{id}@example.org`, invitees
    `invitee{id}@example.org` (`address`). `owner_mail` answers the owner
    `owner{id}@example.org` of the event "Event {id}" (records the ask in
    `owners_asked`; an event in `gone` is deleted: `EventNotFound`)."""

    def __init__(self):
        self.refused = set()
        self.unknown = set()
        self.not_due = set()
        self.gone = set()
        self.minted = []
        self.owners_asked = []

    def has_access(self, user_id, permission, event_id):
        return user_id not in self.refused | self.unknown

    @staticmethod
    def address(lookup, about):
        return f"{'invitee' if lookup == 'invite_mail' else 'user'}{about}@example.org"

    def tokens(self, lookup, about):
        """The tokens minted for `lookup` of `about`, oldest first."""
        return [token for minted_by, minted_for, token in self.minted
                if (minted_by, minted_for) == (lookup, about)]

    def mail(self, lookup, about):
        """The lookup's answer (`Mail`, or `InviteMail` for `invite_mail`)."""
        if (lookup, about) in self.not_due:
            raise MailNotDue(f"{lookup} of {about}: no mail is due")
        if lookup != "invite_mail" and about in self.unknown:
            raise UserNotFound(f"no user {about!r}")
        token = secrets.token_urlsafe(32)
        self.minted.append((lookup, about, token))
        answer = {"to": self.address(lookup, about), "token": token, "expires_at": EXPIRES_AT}
        if lookup == "invite_mail":
            return {**answer, "name": None, **INVITE}
        return {**answer, "name": f"User {about}"}

    def owner_mail(self, event_id):
        self.owners_asked.append(event_id)
        if event_id in self.gone:
            raise EventNotFound(f"no event {event_id!r}")
        return {"to": f"owner{event_id}@example.org", "name": f"Owner {event_id}",
                "event_name": f"Event {event_id}"}


class RolesStub:
    name = "roles"
    policy = Policy()  # the fixture `roles_policy` gives each test its own

    @rpc
    def has_access(self, user_id, permission, event_id):
        return self.policy.has_access(user_id, permission, event_id)

    @rpc
    def get_user(self, user_id):
        if user_id in self.policy.unknown:
            raise UserNotFound(f"no user {user_id!r}")
        return {"id": user_id, "email": f"user{user_id}@example.org", "name": f"User {user_id}",
                "is_admin": False, "created_at": "2030-01-01T00:00:00+00:00"}

    @rpc(callers=("notifications",))
    def invite_mail(self, invite_id):
        return self.policy.mail("invite_mail", invite_id)

    @rpc(callers=("notifications",))
    def verification_mail(self, user_id):
        return self.policy.mail("verification_mail", user_id)

    @rpc(callers=("notifications",))
    def password_reset_mail(self, user_id):
        return self.policy.mail("password_reset_mail", user_id)

    @rpc(callers=("notifications",))
    def owner_mail(self, event_id):
        return self.policy.owner_mail(event_id)
