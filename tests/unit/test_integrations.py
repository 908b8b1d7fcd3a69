"""Which exchanges an integration's patterns bind to (`shared.integrations`):
a topic exchange's matching, and a refusal of what matches nothing."""
import pytest

from shared.integrations import UnknownPattern, account, bindings, matches


@pytest.mark.parametrize("pattern, key, routed", [
    ("event.*", "event.created", True),
    ("event.*", "event.visibility_changed", True),
    ("event.*", "sponsor.deleted", False),
    ("*.deleted", "sponsor.deleted", True),
    ("#", "media.changed", True),
    ("event.#", "event.created", True),
    ("#.accepted", "invite.accepted", True),
    ("invite.accepted", "invite.created", False),
    ("event", "event.created", False),
])
def test_a_pattern_matches_as_a_topic_exchange_routes(pattern, key, routed):
    assert matches(pattern, key) is routed


def test_each_pattern_is_bound_on_the_exchanges_that_carry_its_types():
    assert bindings(["event.*", "invite.accepted", "*.deleted"]) == {
        ("events.events", "event.*"), ("roles.events", "invite.accepted"),
        ("events.events", "*.deleted")}


@pytest.mark.parametrize("pattern", ["evnet.created", "event..created", "event.created; x", ""])
def test_a_pattern_that_matches_no_type_is_refused(pattern):
    with pytest.raises(UnknownPattern):
        bindings([pattern])


@pytest.mark.parametrize("name", ["CRM", "crm.x", "-crm", "", "a" * 41])
def test_an_integration_name_is_plain(name):
    with pytest.raises(ValueError):
        account(name)
