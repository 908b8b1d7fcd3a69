"""Helpers for the end-to-end tests of who may do what: the shape of a
problem answer, a small image, and a valid body for a child of each kind."""
import itertools

from tests.support.media import image

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
PROBLEM_TYPE = "application/problem+json"

# every child kind, in an order where a kind's links exist before it
KINDS = (
    "tracks", "microlocations", "sponsors", "tickets", "taxes", "social-links",
    "speakers-calls", "discount-codes", "custom-forms", "session-types", "sessions",
    "speakers", "orders", "attendees", "access-codes",
)

_numbers = itertools.count(1)


def assert_problem(response, status, code=None):
    """The answer is an RFC 9457 problem of `status` (and `code`, when
    given); a 401 also says how to authenticate. Answers the body."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers.get("Content-Type", "").startswith(PROBLEM_TYPE), (
        f"Content-Type {response.headers.get('Content-Type')!r}: {response.text}")
    body = response.json()
    assert PROBLEM_FIELDS <= body.keys(), body
    assert body["status"] == status, body
    assert all(isinstance(body[field], str) and body[field]
               for field in ("type", "title", "detail", "code")), body
    if code is not None:
        assert body["code"] == code, body
    if status == 401:
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), (
            f"WWW-Authenticate {response.headers.get('WWW-Authenticate')!r}")
    return body


def png(width=130, height=50, colour="teal"):
    return image(colour, (width, height))


def child_body(kind, ticket_id=None):
    """A valid create body for `kind`; an attendee needs `ticket_id`, a
    ticket of the same event."""
    n = next(_numbers)
    return {
        "tracks": {"name": f"Track {n}", "color": "#3366ff"},
        "microlocations": {"name": f"Hall {n}", "floor": 1},
        "sponsors": {"name": f"Sponsor {n}", "level": 1},
        "tickets": {"name": f"Ticket {n}", "type": "paid", "price": "10.00", "quantity": 5},
        "taxes": {"name": f"Tax {n}", "rate": "9"},
        "social-links": {"name": f"Site {n}", "link": "https://example.org"},
        "speakers-calls": {"announcement": f"Call {n}", "starts_at": "2030-01-01T09:00:00+00:00"},
        "discount-codes": {"code": f"EARLY{n}", "type": "percent", "value": "10"},
        "custom-forms": {"form": "attendee", "field_identifier": f"shirt{n}", "type": "text"},
        "session-types": {"name": f"Talk {n}", "length": "00:30"},
        "sessions": {"title": f"Session {n}"},
        "speakers": {"name": f"Speaker {n}", "email": f"speaker{n}@example.org"},
        "orders": {"status": "pending", "amount": "10.00", "buyer_email": "buyer@example.org"},
        "attendees": {"firstname": f"Attendee {n}", "ticket_id": ticket_id},
        "access-codes": {"code": f"VIP{n}"},
    }[kind]


# a change to each kind, and the field that shows it
CHILD_UPDATES = {
    "tracks": {"name": "Renamed"},
    "microlocations": {"name": "Renamed"},
    "sponsors": {"name": "Renamed"},
    "tickets": {"name": "Renamed"},
    "taxes": {"name": "Renamed"},
    "social-links": {"name": "Renamed"},
    "speakers-calls": {"announcement": "Renamed"},
    "discount-codes": {"code": "RENAMED"},
    "custom-forms": {"field_identifier": "renamed"},
    "session-types": {"name": "Renamed"},
    "sessions": {"title": "Renamed"},
    "speakers": {"name": "Renamed"},
    "orders": {"status": "cancelled"},
    "attendees": {"firstname": "Renamed"},
    "access-codes": {"code": "RENAMED"},
}
