"""The tables of docs/ that describe code, generated from it.

Each table sits between `<!-- generated: NAME -->` and `<!-- end generated -->`
in its page; `python -m scripts.docs` rewrites them, and a unit test fails
when a committed page differs from what this makes.
"""
import inspect
import re
import sys
from pathlib import Path

from contracts.asyncapi import first_sentence
from contracts.catalog import message_types, rpc_protocols

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n).*?(<!-- end generated -->)", re.S)


def rpc_table():
    rows = ["| method | arguments | answers | callers | raises |", "|---|---|---|---|---|"]
    for service, protocol in rpc_protocols().items():
        for name, method in vars(protocol).items():
            if inspect.isfunction(method) and not name.startswith("_"):
                answer, raises = _split_doc(method.__doc__)
                answer, callers = _callers(answer)
                rows.append(f"| `{service}.{name}` | {_arguments(method)} | {answer} | "
                            f"{callers} | {raises} |")
    return "\n".join(rows)


def messages_table():
    rows = ["| event type | source | version | fields | what it says |", "|---|---|---|---|---|"]
    for message in message_types():
        fields = ", ".join(_field(name, info) for name, info in message.model_fields.items()
                           if name not in ("message_id", "occurred_at", "version"))
        rows.append(f"| `{message.event_type}` | {message.source} | "
                    f"{message.model_fields['version'].default} | {fields} | "
                    f"{first_sentence(message.__doc__)} |")
    return "\n".join(rows)


def broker_table():
    """Each service's broker user: what it answers, calls, publishes and
    consumes, which is what its permissions allow (`shared.broker`)."""
    from shared.broker import services  # every service, as the broker sees it

    rows = ["| broker user | answers (RPC) | calls (RPC) | publishes | consumes |",
            "|---|---|---|---|---|"]
    for name, service in services().items():
        answers = [f"`{method}`" + (f" ({', '.join(callers)} only)" if callers is not None
                                    else "") for method, callers in service.answers.items()]
        calls = [f"`{key}`" for key in service.calls]
        publishes = [f"`{event_type}`" for event_type in service.publishes]
        consumes = [f"`{event_type}` (from {source})" for source, event_type, _ in
                    service.consumes]
        rows.append(f"| `{name}` | {_listed(answers)} | {_listed(calls)} | {_listed(publishes)}"
                    f" | {_listed(consumes)} |")
    return "\n".join(rows)


def permissions_table():
    """Which roles pass which check (`contracts.powers.PERMISSIONS`)."""
    from contracts.powers import PERMISSIONS
    from contracts.vocabulary import Role

    rows = [f"| check | {' | '.join(Role)} | admin | anyone else |",
            "|---|" + ":-:|" * (len(Role) + 2)]
    for permission, roles in PERMISSIONS.items():
        marks = " | ".join("✓" if role in roles else "" for role in Role)
        rows.append(f"| `{permission}` | {marks} | ✓ | |")
    return "\n".join(rows)


def child_powers_table():
    """Who reads and writes each kind of child (`contracts.powers.CHILD_POWERS`)."""
    from contracts.powers import CHILD_POWERS, holders

    rows = ["| kind | reads (the team's view) | creates, updates, deletes | "
            "updates alone |", "|---|---|---|---|"]
    for kind, powers in CHILD_POWERS.items():
        alone = ", ".join(f"`{name}`: {holders(permission)}"
                          for name, permission in powers.fields.items())
        rows.append(f"| `{kind}` | {holders(powers.read)} | {holders(powers.write)} | "
                    f"{alone or '–'} |")
    return "\n".join(rows)


def _listed(items):
    return ", ".join(items) or "–"


def tables():
    from shared.settings import settings_table  # the settings of every service
    return {"rpc": rpc_table(), "messages": messages_table(), "settings": settings_table(),
            "broker": broker_table(), "permissions": permissions_table(),
            "child_powers": child_powers_table()}


def rendered(text, generated):
    return BLOCK.sub(lambda m: f"{m[1]}{generated[m[2]]}\n{m[3]}", text)


def stale_pages():
    """`{page: what it should say}` for every page whose tables are out of date."""
    generated = tables()
    pages = {page: page.read_text() for page in sorted(DOCS.glob("*.md"))}
    return {page: rendered(text, generated) for page, text in pages.items()
            if rendered(text, generated) != text}


def _arguments(method):
    names = [parameter.name + ("" if parameter.default is parameter.empty
                               else f"={parameter.default!r}")
             for parameter in list(inspect.signature(method).parameters.values())[1:]]
    return "`" + ", ".join(names) + "`" if names else "–"


def _split_doc(doc):
    text = " ".join(inspect.cleandoc(doc or "").split())
    answer, _, raises = text.partition("Raises:")
    return answer.strip().replace("|", "\\|"), raises.strip().rstrip(".").replace("|", "\\|")


def callers_of(doc):
    """The services a method's docstring names (`Callers: gateway.`), or
    None: any service may call it."""
    text = " ".join(inspect.cleandoc(doc or "").split())
    _, found, named = text.partition("Callers:")
    if not found:
        return None
    return tuple(name.strip() for name in named.split(".")[0].split(","))


def _callers(answer):
    text, _, _ = answer.partition("Callers:")
    named = callers_of(answer)
    return text.strip(), ", ".join(named) if named else "any service"


def _field(name, info):
    return f"`{name}`" + (f" ({info.description})" if info.description else "")




if __name__ == "__main__":
    stale = stale_pages()
    for page, text in stale.items():
        page.write_text(text)
        print(f"written: docs/{page.name}")
    sys.exit(0)
