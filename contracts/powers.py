"""Who may do what on an event: the one table of powers.

The roles service answers `has_access` from `PERMISSIONS`; the events
service checks each change of a child against `CHILD_POWERS`; the gateway
guards its routes and writes its OpenAPI document from both; the
authorization matrix test derives its expectations from them. Admins pass
every check.

Beyond owner, organizer and coorganizer (whose powers rank them), three
roles hold powers of their own:

- registrar: reads orders and attendees, and checks attendees in;
- track organizer: creates, updates and deletes tracks and sessions;
- moderator: reads every session, and changes a session's `state` and
  nothing else of it.
"""
from dataclasses import dataclass, field

from contracts.vocabulary import CHILD_KINDS, Permission, Role

ORGANIZER_PLUS = frozenset({Role.OWNER, Role.ORGANIZER})
COORGANIZER_PLUS = ORGANIZER_PLUS | {Role.COORGANIZER}

# permission -> the roles that pass it (admins pass all)
PERMISSIONS = {
    Permission.IS_OWNER: frozenset({Role.OWNER}),
    Permission.IS_ORGANIZER: ORGANIZER_PLUS,
    Permission.IS_COORGANIZER: COORGANIZER_PLUS,
    Permission.IS_TEAM_MEMBER: frozenset(Role),
    Permission.IS_ADMIN: frozenset(),
    Permission.READS_PROGRAM: COORGANIZER_PLUS | {Role.TRACK_ORGANIZER, Role.MODERATOR},
    Permission.MANAGES_PROGRAM: ORGANIZER_PLUS | {Role.TRACK_ORGANIZER},
    Permission.REVIEWS_SESSIONS: ORGANIZER_PLUS | {Role.TRACK_ORGANIZER, Role.MODERATOR},
    Permission.READS_REGISTRATIONS: COORGANIZER_PLUS | {Role.REGISTRAR},
    Permission.CHECKS_IN: ORGANIZER_PLUS | {Role.REGISTRAR},
}


@dataclass(frozen=True)
class KindPowers:
    """Who may do what with an event's children of one kind.

    `read`: the team's view (anyone else reads the public view of a public
    kind of a published, public event, or nothing); `write`: create,
    update and delete; `fields`: fields an update may change with a lesser
    permission, when they are all it changes (every role passing `write`
    passes these too).
    """

    read: Permission = Permission.IS_COORGANIZER
    write: Permission = Permission.IS_ORGANIZER
    fields: dict = field(default_factory=dict)

    def to_update(self, changed):
        """The permission an update changing the fields `changed` needs."""
        lesser = {self.fields.get(name) for name in changed}
        if len(lesser) == 1 and None not in lesser:
            return lesser.pop()
        return self.write


CHILD_POWERS = {kind: KindPowers() for kind in CHILD_KINDS} | {
    "tracks": KindPowers(Permission.READS_PROGRAM, Permission.MANAGES_PROGRAM),
    "sessions": KindPowers(Permission.READS_PROGRAM, Permission.MANAGES_PROGRAM,
                           {"state": Permission.REVIEWS_SESSIONS}),
    "orders": KindPowers(Permission.READS_REGISTRATIONS),
    "attendees": KindPowers(Permission.READS_REGISTRATIONS,
                            fields={"checked_in": Permission.CHECKS_IN}),
}


def holders(permission):
    """Who passes `permission`, in words: "owner", "organizer+" (an owner
    or organizer), "coorganizer+, track organizer or moderator", "a team
    member", "an admin"."""
    roles = PERMISSIONS[Permission(permission)]
    if roles == frozenset(Role):
        return "a team member"
    if not roles:
        return "an admin"
    ranked = [role for role in Role if role in roles]
    words = [role.replace("_", " ") for role in ranked]
    # owner, organizer and coorganizer rank, each with the powers of the next
    strongest = next(n for n, role in enumerate((*Role, None)) if role not in roles)
    if strongest > 1:
        words[:min(strongest, 3)] = [f"{words[min(strongest, 3) - 1]}+"]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
