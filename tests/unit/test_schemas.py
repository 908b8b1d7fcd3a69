"""Input schemas: what an event and each child kind accept and refuse."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contracts.events.errors import InvalidEventData
from contracts.events.schemas import EventIn, EventUpdate
from services.events.schemas import KINDS, validate
from shared.validation import Page

EVENT = {"name": "PyCon", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00"}

MINIMAL = {
    "tracks": {"name": "Web", "color": "#1a2B3c"},
    "microlocations": {"name": "Hall A"},
    "sponsors": {"name": "ACME"},
    "tickets": {"name": "Standard", "type": "paid"},
    "taxes": {"name": "VAT", "rate": "19"},
    "social-links": {"name": "Mastodon", "link": "https://example.org/@pycon"},
    "speakers-calls": {"announcement": "Send talks", "starts_at": "2030-01-01T00:00:00Z"},
    "discount-codes": {"code": "EARLY", "type": "percent", "value": "10"},
    "custom-forms": {"form": "attendee", "field_identifier": "company", "type": "text"},
    "session-types": {"name": "Talk"},
    "sessions": {"title": "Keynote"},
    "speakers": {"name": "Ada"},
    "orders": {},
    "attendees": {"firstname": "Ada", "ticket_id": 1},
    "access-codes": {"code": "CREW"},
}


def event_with(**changes):
    return {**EVENT, **changes}


def refusal(schema, data):
    with pytest.raises(InvalidEventData) as caught:
        validate(schema, data, "thing")
    return caught.value.detail


def test_every_kind_of_the_contract_is_registered():
    assert set(KINDS) == set(MINIMAL)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_each_kind_accepts_its_required_fields(kind):
    validate(KINDS[kind].create, MINIMAL[kind], kind)


@pytest.mark.parametrize("kind", sorted(k for k, data in MINIMAL.items() if data))
def test_each_kind_refuses_a_missing_required_field(kind):
    required = next(iter(MINIMAL[kind]))
    data = {name: value for name, value in MINIMAL[kind].items() if name != required}
    assert f"{required}: Field required" in refusal(KINDS[kind].create, data)


def test_an_event_gets_its_defaults_and_times_in_utc():
    values = validate(EventIn, EVENT, "event")
    assert values["timezone"] == "UTC"
    assert values["state"] == "draft"
    assert values["privacy"] == "public"
    assert values["starts_at"] == datetime(2030, 5, 1, 7, 0, tzinfo=UTC)


def test_an_event_needs_name_and_times():
    detail = refusal(EventIn, {})
    for field in ("name", "starts_at", "ends_at"):
        assert f"{field}: Field required" in detail


def test_an_unknown_field_is_refused_by_name():
    assert "colour: unknown field" in refusal(EventIn, event_with(colour="#ffffff"))


@pytest.mark.parametrize("field", ["id", "identifier", "created_at", "copied_from_id",
                                   "logo_url", "owner_id"])
def test_a_read_only_event_field_is_refused(field):
    assert f"read-only field(s): {field}" in refusal(EventIn, event_with(**{field: 1}))


def test_a_child_refuses_its_event_id_and_a_sponsor_its_logo():
    assert "event_id" in refusal(KINDS["tracks"].create, {**MINIMAL["tracks"], "event_id": 2})
    assert "logo_url" in refusal(KINDS["sponsors"].create, {"name": "A", "logo_url": "x"})


def test_a_time_without_offset_is_refused():
    assert "starts_at: must carry a UTC offset" in refusal(
        EventIn, event_with(starts_at="2030-05-01T09:00:00")
    )


@pytest.mark.parametrize("bad", ["yesterday", "1700000000", 1700000000, "2030-13-01T00:00Z"])
def test_a_time_that_is_not_iso_8601_is_refused(bad):
    assert "starts_at: must be an ISO 8601 time" in refusal(EventIn, event_with(starts_at=bad))


@pytest.mark.parametrize("ends_at", ["2030-05-01T09:00:00+02:00", "2030-04-30T09:00:00Z"])
def test_an_event_must_end_after_it_starts(ends_at):
    assert "ends_at must be after starts_at" in refusal(EventIn, event_with(ends_at=ends_at))


@pytest.mark.parametrize("field, value", [
    ("timezone", "Mars/Olympus"),
    ("state", "archived"),
    ("privacy", "secret"),
    ("name", "   "),
])
def test_event_fields_are_checked(field, value):
    assert f"{field}:" in refusal(EventIn, event_with(**{field: value}))


def test_an_iana_timezone_is_accepted():
    assert validate(EventIn, event_with(timezone="Asia/Kolkata"), "event")["timezone"] == (
        "Asia/Kolkata"
    )


@pytest.mark.parametrize("color", ["red", "#fff", "#12345G", "1a2b3c"])
def test_a_track_colour_is_hash_and_six_hex_digits(color):
    assert "color:" in refusal(KINDS["tracks"].create, {"name": "Web", "color": color})


@pytest.mark.parametrize("kind, field, value", [
    ("tickets", "type", "vip"),
    ("tickets", "price", 9.99),
    ("tickets", "price", "-1"),
    ("tickets", "price", "1.999"),
    ("tickets", "quantity", -1),
    ("taxes", "rate", "100.5"),
    ("social-links", "link", "ftp://example.org"),
    ("social-links", "link", "example.org"),
    ("sponsors", "url", "javascript:alert(1)"),
    ("discount-codes", "type", "gift"),
    ("custom-forms", "form", "order"),
    ("session-types", "length", "1:30"),
    ("session-types", "length", "01:75"),
    ("orders", "status", "paid"),
    ("speakers", "email", "not-an-email"),
    ("attendees", "ticket_id", 0),
    ("discount-codes", "ticket_ids", [1, "x"]),
])
def test_child_fields_are_checked(kind, field, value):
    assert f"{field}" in refusal(KINDS[kind].create, {**MINIMAL[kind], field: value})


def test_money_is_a_decimal_string():
    values = validate(KINDS["tickets"].create, {**MINIMAL["tickets"], "price": "12.50"}, "t")
    assert values["price"] == Decimal("12.50")


def test_a_percent_discount_is_at_most_100():
    data = {**MINIMAL["discount-codes"], "value": "150"}
    assert "at most 100" in refusal(KINDS["discount-codes"].create, data)
    validate(KINDS["discount-codes"].create, {**data, "type": "amount"}, "d")


def test_a_sales_window_must_end_after_it_starts():
    data = {**MINIMAL["tickets"], "sales_starts_at": "2030-02-01T00:00:00Z",
            "sales_ends_at": "2030-01-01T00:00:00Z"}
    assert "sales_ends_at must be after sales_starts_at" in refusal(KINDS["tickets"].create, data)


def test_an_update_holds_only_the_fields_sent():
    assert validate(EventUpdate, {"name": "PyCon 2030"}, "event", sent_only=True) == {
        "name": "PyCon 2030"
    }
    assert validate(EventUpdate, {}, "event", sent_only=True) == {}


def test_an_update_may_clear_an_optional_field_but_not_a_required_one():
    assert validate(EventUpdate, {"description": None}, "event", sent_only=True) == {
        "description": None
    }
    assert "name:" in refusal(EventUpdate, {"name": None})
    assert "state:" in refusal(EventUpdate, {"state": None})


def test_an_update_checks_fields_as_a_create_does():
    assert "unknown field" in refusal(EventUpdate, {"colour": "red"})
    assert "read-only" in refusal(EventUpdate, {"identifier": "abcdef12"})
    assert "must carry a UTC offset" in refusal(EventUpdate, {"ends_at": "2030-05-01T09:00"})
    assert "ends_at must be after starts_at" in refusal(
        EventUpdate, {"starts_at": "2030-05-02T00:00:00Z", "ends_at": "2030-05-01T00:00:00Z"}
    )


def test_every_kind_has_an_update_schema_with_nothing_required():
    for kind in KINDS.values():
        assert not any(field.is_required() for field in kind.update.model_fields.values())
        assert set(kind.update.model_fields) == set(kind.create.model_fields)


def test_a_page_is_1_to_200_items_from_offset_0():
    assert validate(Page, {}, "page") == {"limit": 50, "offset": 0}
    assert "limit:" in refusal(Page, {"limit": 201})
    assert "limit:" in refusal(Page, {"limit": 0})
    assert "offset:" in refusal(Page, {"offset": -1})


def test_data_that_is_not_an_object_is_refused():
    assert "valid dictionary" in refusal(EventIn, ["name"])


@pytest.mark.parametrize("schema", [EventIn, EventUpdate])
def test_a_nul_character_is_refused_before_it_reaches_the_database(schema):
    with pytest.raises(InvalidEventData, match="name: must not contain NUL"):
        validate(schema, {**EVENT, "name": "Py\x00Con"}, "event")
