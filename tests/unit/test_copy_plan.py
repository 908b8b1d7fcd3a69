"""What a copy of an event copies (services.events.copy), read off the plan
and the one statement built from it, without a database: which kinds
always, which on request, which never; and which references and link
tables point at the copied rows instead of the source's."""
import re

import pytest

from contracts.events.errors import InvalidEventData
from services.events import models
from services.events.copy import (
    NOT_COPIED_COLUMNS,
    REFERENCES,
    children_statement,
    copied_tables,
    mapped_kinds,
)

# the brief: "tickets, taxes, social links, sponsors, microlocations,
# tracks, speakers calls, discount codes with their ticket links, custom
# forms" (and session types); never orders, attendees or access codes
ALWAYS = {"taxes", "tickets", "social_links", "sponsors", "microlocations", "tracks",
          "speakers_calls", "discount_codes", "custom_forms", "session_types"}
WITH_SESSIONS = {"sessions", "speakers"}
NEVER = {"orders", "attendees", "access_codes"}
INCLUDES = [(), ["sessions"]]


def names(tables):
    return [table.name for table in tables]


def ctes(include):
    """The statement's CTEs by name (`tickets_old`, `tickets_new`, …)."""
    lines = children_statement(copied_tables(include)).splitlines()[:-1]
    return {line.removeprefix("WITH ").split(" AS ")[0]: line for line in lines}


def test_a_copy_always_copies_the_kinds_the_brief_lists():
    assert set(names(copied_tables())) == ALWAYS


def test_sessions_and_speakers_are_copied_on_request_only():
    assert set(names(copied_tables(["sessions"]))) == ALWAYS | WITH_SESSIONS
    assert names(copied_tables(["sessions", "sessions"])) == names(copied_tables(["sessions"]))
    assert names(copied_tables(None)) == names(copied_tables())


def test_every_kind_of_child_is_copied_always_on_request_or_never():
    children = {table.name for table in models.Base.metadata.sorted_tables
                if "event_id" in table.columns and table.name != "copy_requests"}

    assert children == ALWAYS | WITH_SESSIONS | NEVER


@pytest.mark.parametrize("include", INCLUDES)
def test_orders_attendees_and_access_codes_are_never_copied(include):
    statement = children_statement(copied_tables(include))

    assert not NEVER & set(names(copied_tables(include)))
    assert not any(kind in statement for kind in [*NEVER, "access_code_tickets"])


@pytest.mark.parametrize("include", [["orders"], ["attendees"], ["access-codes"], "sessions",
                                     [1], {"sessions": True}])
def test_anything_else_to_include_is_refused(include):
    with pytest.raises(InvalidEventData, match="include takes a list of: sessions"):
        copied_tables(include)


@pytest.mark.parametrize("include", INCLUDES)
def test_a_kind_is_copied_after_every_kind_it_points_at(include):
    order = names(copied_tables(include))
    for table in copied_tables(include):
        for column, kind in REFERENCES.items():
            if column in table.columns:
                assert order.index(kind) < order.index(table.name)


@pytest.mark.parametrize("include, mapped", [
    ((), {"sponsors", "tickets", "discount_codes"}),
    (["sessions"], {"sponsors", "tickets", "discount_codes", "tracks", "microlocations",
                    "session_types", "sessions", "speakers"}),
])
def test_the_kinds_pointed_at_get_an_old_to_new_id_map(include, mapped):
    """Sponsors for the media service's sake; the rest for links and references."""
    assert mapped_kinds(copied_tables(include)) == mapped
    assert {name.removesuffix("_old") for name in ctes(include) if name.endswith("_old")} == mapped


def test_a_copied_session_points_at_the_copied_track_microlocation_and_type():
    sessions = ctes(["sessions"])["sessions_new"]

    for column, kind in REFERENCES.items():
        assert f"{column}_map.new_id" in sessions and f"old.{column}," not in sessions
        assert f"LEFT JOIN {kind}_old {column}_map ON {column}_map.id = old.{column}" in sessions


@pytest.mark.parametrize("include, links", [
    ((), {"discount_code_tickets": ("discount_codes", "tickets")}),
    (["sessions"], {"discount_code_tickets": ("discount_codes", "tickets"),
                    "session_speakers": ("sessions", "speakers")}),
])
def test_link_tables_join_the_copied_rows_on_both_sides(include, links):
    found = {name.removesuffix("_new"): line for name, line in ctes(include).items()
             if name.removesuffix("_new") in {"discount_code_tickets", "session_speakers"}}

    assert set(found) == set(links)
    for link, (left, right) in links.items():
        assert f"SELECT l.new_id, r.new_id FROM {left}_old l" in found[link]
        assert f"JOIN {right}_old r" in found[link]


@pytest.mark.parametrize("include", INCLUDES)
def test_only_live_rows_of_the_source_are_copied_into_the_copy(include):
    for name, line in ctes(include).items():
        if " FROM (SELECT * FROM " in line:
            assert "WHERE event_id = :source AND deleted_at IS NULL" in line, name
        if name.endswith("_new") and "event_id" in line.split(")")[0]:
            assert ":copy" in line, name


@pytest.mark.parametrize("include", INCLUDES)
def test_times_and_media_urls_are_not_carried_over_and_ids_are_new(include):
    mapped = mapped_kinds(copied_tables(include))
    for table in copied_tables(include):
        line = ctes(include)[f"{table.name}_new"]
        columns = set(re.search(rf"INSERT INTO {table.name} \(([^)]*)\)", line)[1].split(", "))

        assert columns == {c.name for c in table.columns} - NOT_COPIED_COLUMNS | {"event_id"} | (
            {"id"} if table.name in mapped else set())
        assert "old.id," not in line and "old.event_id" not in line
    assert {"created_at", "deleted_at", "logo_url", "original_image_url", "media_version"} <= (
        NOT_COPIED_COLUMNS)


def test_the_statement_answers_the_old_to_new_sponsor_ids():
    statement = children_statement(copied_tables())

    assert statement.endswith("SELECT coalesce(json_object_agg(old.id, old.new_id), '{}')"
                              " FROM sponsors_old old")
