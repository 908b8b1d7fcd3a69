"""Lists of events and the public views of their children, through the
real EventsService: `list_events` (the events among ids, as the gateway
asks for a user's own), `list_public_events`, and `list_children` /
`get_child` with `public=True` (what anyone may see: no one's email, only
accepted or confirmed sessions and their speakers, no private speakers
call)."""
import json
from typing import get_args

import pytest

from contracts.events.errors import ChildNotFound, InvalidEventData, UnknownKind
from contracts.events.schemas import MAX_LISTED_EVENTS, PUBLIC_VIEWS, SessionState
from services.events.public import SHOWN

OWNER = 7
EVENT = {"name": "PyCon", "starts_at": "2030-05-01T09:00:00+00:00",
         "ends_at": "2030-05-03T18:00:00+00:00"}
LOGO = "http://media.test/media/" + "a" * 32


@pytest.fixture
def add(events):
    """`add(event, kind, **fields)` → the child, created by the owner."""
    def add(event, kind, **fields):
        return events.acting(OWNER).create_child(event["id"], kind, fields)
    return add


@pytest.fixture
def new_event(events):
    """`new_event(name=…, starts_at=…, state=…, …)` → an event of OWNER's."""
    def new_event(**fields):
        return events.acting(OWNER).create_event({**EVENT, **fields})
    return new_event


@pytest.fixture
def event(new_event):
    return new_event(state="published")


def ids(page):
    return [item["id"] for item in page["items"]]


def public_list(events, event, kind, **window):
    return events.list_children(event["id"], kind, public=True, **window)


# public views of children


def test_the_rows_each_public_view_filters_are_those_its_contract_names():
    assert set(SHOWN) == {kind for kind, view in PUBLIC_VIEWS.items() if view.shown != "all"}


def test_only_accepted_or_confirmed_sessions_are_public_and_counted(events, event, add):
    sessions = {state: add(event, "sessions", title=f"Talk {state}", state=state)
                for state in get_args(SessionState)}
    add(event, "sessions", title="No state")
    gone = add(event, "sessions", title="Gone", state="accepted")
    events.acting(OWNER).delete_child("sessions", gone["id"])

    listed = public_list(events, event, "sessions")

    assert ids(listed) == [sessions["accepted"]["id"], sessions["confirmed"]["id"]]
    assert listed["total"] == 2
    assert listed["items"][0] == sessions["accepted"]
    second = public_list(events, event, "sessions", limit=1, offset=1)
    assert (ids(second), second["total"]) == ([sessions["confirmed"]["id"]], 2)
    assert events.list_children(event["id"], "sessions")["total"] == len(sessions) + 1


def test_public_speakers_are_those_of_public_sessions_and_show_no_email(events, event, add):
    ada, grace, linus, margaret, barbara = (
        add(event, "speakers", name=name, email=f"{name.lower()}@example.org", bio="Speaks")
        for name in ("Ada", "Grace", "Linus", "Margaret", "Barbara"))
    add(event, "sessions", title="Accepted", state="accepted", speaker_ids=[ada["id"]])
    add(event, "sessions", title="Draft", state="draft", speaker_ids=[grace["id"], barbara["id"]])
    add(event, "sessions", title="Rejected", state="rejected", speaker_ids=[grace["id"]])
    add(event, "sessions", title="Confirmed", state="confirmed", speaker_ids=[barbara["id"]])
    gone = add(event, "sessions", title="Gone", state="accepted", speaker_ids=[margaret["id"]])
    events.acting(OWNER).delete_child("sessions", gone["id"])

    listed = public_list(events, event, "speakers")

    assert ids(listed) == [ada["id"], barbara["id"]]
    assert listed["total"] == 2
    assert listed["items"][0] == {key: value for key, value in ada.items() if key != "email"}
    raw = json.dumps(listed)
    assert "email" not in raw and "@example.org" not in raw
    assert ids(public_list(events, event, "speakers", limit=1, offset=1)) == [barbara["id"]]
    every = events.list_children(event["id"], "speakers")
    assert every["total"] == 5 and all(speaker["email"] for speaker in every["items"])
    assert linus["id"] not in ids(listed)


def test_a_private_speakers_call_is_not_public(events, event, add):
    calls = {privacy: add(event, "speakers-calls", announcement=f"Call {privacy}",
                          starts_at="2030-01-01T00:00:00Z", privacy=privacy)
             for privacy in ("public", None, "private")}

    listed = public_list(events, event, "speakers-calls")

    assert ids(listed) == [calls["public"]["id"], calls[None]["id"]]
    assert listed["total"] == 2
    with pytest.raises(ChildNotFound):
        events.get_child("speakers-calls", calls["private"]["id"], public=True)
    assert events.get_child("speakers-calls", calls[None]["id"], public=True) == calls[None]


def test_every_live_row_of_another_public_kind_is_public(events, event, add):
    tracks = [add(event, "tracks", name=f"Track {n}", color="#102030") for n in range(3)]
    events.acting(OWNER).delete_child("tracks", tracks[0]["id"])

    listed = public_list(events, event, "tracks", limit=1)

    assert (listed["items"], listed["total"]) == ([tracks[1]], 2)


def test_a_public_answer_has_exactly_the_fields_of_its_view(events, event, add):
    speaker = add(event, "speakers", name="Ada", email="ada@example.org")
    session = add(event, "sessions", title="Talk", state="accepted", speaker_ids=[speaker["id"]])
    ticket = add(event, "tickets", name="Standard", type="paid", price="10")

    for kind, child in (("speakers", speaker), ("sessions", session), ("tickets", ticket)):
        answer = events.get_child(kind, child["id"], public=True)
        assert set(answer) == set(PUBLIC_VIEWS[kind].answer.model_fields)
        assert public_list(events, event, kind)["items"] == [answer]


def test_one_child_outside_its_public_view_is_not_found(events, event, add):
    speaker = add(event, "speakers", name="Grace", email="grace@example.org")
    draft = add(event, "sessions", title="Draft", state="draft", speaker_ids=[speaker["id"]])

    for kind, child in (("sessions", draft), ("speakers", speaker)):
        with pytest.raises(ChildNotFound):
            events.get_child(kind, child["id"], public=True)
        assert events.get_child(kind, child["id"]) == child

    events.acting(OWNER).update_child("sessions", draft["id"], {"state": "confirmed"})
    shown = events.get_child("speakers", speaker["id"], public=True)
    assert "email" not in shown and "grace@example.org" not in json.dumps(shown)


def test_a_kind_without_a_public_view_is_refused_publicly(events, event, add):
    order = add(event, "orders", buyer_email="buyer@example.org")

    with pytest.raises(InvalidEventData, match="orders have no public view"):
        public_list(events, event, "orders")
    with pytest.raises(ChildNotFound):
        events.get_child("orders", order["id"], public=True)
    with pytest.raises(UnknownKind):
        public_list(events, event, "faqs")
    with pytest.raises(UnknownKind):
        events.get_child("faqs", 1, public=True)
    assert events.get_child("orders", order["id"]) == order


def test_the_public_flag_must_be_a_boolean(events, event, add):
    track = add(event, "tracks", name="Web", color="#000000")
    for flag in ("true", 1, None):
        with pytest.raises(InvalidEventData, match="public must be true or false"):
            events.list_children(event["id"], "tracks", public=flag)
        with pytest.raises(InvalidEventData, match="public must be true or false"):
            events.get_child("tracks", track["id"], public=flag)


# lists of events


def test_list_events_lists_the_live_events_among_the_ids_by_start_then_id(events, new_event):
    later = new_event(name="Later", starts_at="2030-06-01T00:00:00Z",
                      ends_at="2030-06-02T00:00:00Z")
    first, twin = (new_event(name=name, starts_at="2030-04-01T00:00:00Z") for name in ("A", "B"))
    deleted = new_event(name="Deleted")
    events.acting(OWNER).delete_event(deleted["id"])
    not_asked = new_event(name="Not asked")

    listed = events.list_events([later["id"], twin["id"], first["id"], deleted["id"], 999999])

    assert ids(listed) == [first["id"], twin["id"], later["id"]]
    assert (listed["total"], listed["limit"], listed["offset"]) == (3, 50, 0)
    assert not_asked["id"] not in ids(listed)
    page = events.list_events([later["id"], twin["id"], first["id"]], limit=1, offset=1)
    assert (ids(page), page["total"]) == ([twin["id"]], 3)
    assert events.list_events([]) == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_listed_events_are_answered_as_get_event_answers_them(events, event):
    events.apply_media_urls(event["id"], 1, {"logo_url": LOGO}, {})
    shown = events.get_event(event["id"])

    assert events.list_events([event["id"]])["items"] == [shown]
    assert events.list_public_events()["items"] == [shown]
    assert shown["logo_url"] == LOGO


def test_list_events_filters_on_state_and_name(events, new_event):
    draft = new_event(name="PyCon Draft")
    published = new_event(name="pycon live", state="published")
    other = new_event(name="RustConf", state="published")
    asked = [draft["id"], published["id"], other["id"]]

    assert ids(events.list_events(asked, state="draft")) == [draft["id"]]
    assert ids(events.list_events(asked, state="published")) == [published["id"], other["id"]]
    assert ids(events.list_events(asked, q="PYCON")) == [draft["id"], published["id"]]
    listed = events.list_events(asked, state="published", q="Con")
    assert (ids(listed), listed["total"]) == ([published["id"], other["id"]], 2)


def test_a_name_search_takes_wildcards_literally(events, new_event):
    named = {name: new_event(name=name, state="published")
             for name in ("100% Python", "100 Percent Python", "snake_case", "snakeXcase",
                          "back\\slash", "backslash")}
    asked = [event["id"] for event in named.values()]

    for q, found in (("100%", "100% Python"), ("_case", "snake_case"),
                     ("k\\s", "back\\slash")):
        assert ids(events.list_events(asked, q=q)) == [named[found]["id"]]
        assert ids(events.list_public_events(q=q)) == [named[found]["id"]]
    assert events.list_events(asked, q="%")["total"] == 1


def test_list_public_events_lists_the_published_public_live_events(events, new_event):
    shown = [new_event(name=f"Public {n}", state="published",
                       starts_at=f"2030-0{5 - n}-01T00:00:00Z") for n in range(3)]
    new_event(name="Public draft")
    new_event(name="Private", state="published", privacy="private")
    deleted = new_event(name="Deleted", state="published")
    events.acting(OWNER).delete_event(deleted["id"])

    listed = events.list_public_events()

    assert ids(listed) == [event["id"] for event in reversed(shown)]
    assert listed["total"] == 3
    page = events.list_public_events(limit=2, offset=2)
    assert (ids(page), page["total"]) == ([shown[0]["id"]], 3)
    assert ids(events.list_public_events(q="public 1")) == [shown[1]["id"]]
    assert events.list_public_events(q="draft")["total"] == 0


@pytest.mark.parametrize("event_ids, state, q, window, problem", [
    ("1,2", None, None, {}, "event_ids"),
    (None, None, None, {}, "event_ids"),
    ([0], None, None, {}, "event_ids.0"),
    (["x"], None, None, {}, "event_ids.0"),
    (list(range(1, MAX_LISTED_EVENTS + 2)), None, None, {}, "at most 10000"),
    ([1], "archived", None, {}, "state"),
    ([1], None, "x" * 256, {}, "q"),
    ([1], None, 5, {}, "q"),
    ([1], None, "a\x00b", {}, "q"),
    ([1], None, None, {"limit": 0}, "limit"),
    ([1], None, None, {"limit": 201}, "limit"),
    ([1], None, None, {"offset": -1}, "offset"),
])
def test_list_events_refuses_bad_input(events, event_ids, state, q, window, problem):
    with pytest.raises(InvalidEventData, match=problem):
        events.list_events(event_ids, state, q, **window)


def test_list_events_takes_as_many_ids_as_it_may(events, event):
    listed = events.list_events([*range(1, MAX_LISTED_EVENTS), event["id"]])
    assert ids(listed) == [event["id"]]


@pytest.mark.parametrize("q, window, problem", [
    ("x" * 256, {}, "q"), (["py"], {}, "q"), (None, {"limit": "many"}, "limit"),
    (None, {"offset": -1}, "offset"),
])
def test_list_public_events_refuses_bad_input(events, q, window, problem):
    with pytest.raises(InvalidEventData, match=problem):
        events.list_public_events(q, **window)
