"""The tables of docs/ that describe code are what the code says now
(`make docs` rewrites them)."""
from scripts.docs import BLOCK, DOCS, stale_pages, tables


def test_every_generated_table_of_the_docs_is_up_to_date():
    stale = sorted(page.name for page in stale_pages())
    assert not stale, f"out of date: {', '.join(stale)}; run make docs"


def test_each_table_is_in_a_page():
    named = {match[2] for page in DOCS.glob("*.md") for match in BLOCK.finditer(page.read_text())}
    assert named == set(tables())


def test_every_rpc_method_and_message_type_has_a_row():
    from contracts.catalog import message_types, rpc_protocols

    generated = tables()
    for service, protocol in rpc_protocols().items():
        for name in (name for name in vars(protocol) if not name.startswith("_")):
            assert f"`{service}.{name}`" in generated["rpc"]
    for message in message_types():
        assert f"`{message.event_type}`" in generated["messages"]
