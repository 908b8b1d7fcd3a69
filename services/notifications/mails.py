"""The mails, composed from the roles service's lookup answers: for each
kind a subject, a text body and an HTML body (multipart/alternative),
rendered from `templates/{kind}.subject.txt`, `{kind}.txt` and
`{kind}.html` (Jinja2; HTML autoescaped, so an event named `<script>`
reads as text). The link is `{PUBLIC_BASE_URL}{kind.link_path}?token=…`,
or without `?token=…` for a kind whose answer has none."""
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from contracts.vocabulary import Role

TEMPLATES = Path(__file__).parent / "templates"
ROLE_TITLES = {
    Role.OWNER: "owner", Role.ORGANIZER: "organizer", Role.COORGANIZER: "co-organizer",
    Role.TRACK_ORGANIZER: "track organizer", Role.MODERATOR: "moderator",
    Role.REGISTRAR: "registrar",
}


def compose(kind, answer, settings):
    """The `EmailMessage` of a `kind` mail from `answer` (the lookup's, as
    `kind.answer`), from `settings.MAIL_FROM`, its link on
    `settings.PUBLIC_BASE_URL`."""
    data = kind.answer.model_validate(answer)
    context = _context(kind, data, settings)
    templates = _templates()
    context["subject"] = _one_line(
        templates.get_template(f"{kind.name}.subject.txt").render(context))
    mail = EmailMessage()
    mail["Subject"] = context["subject"]
    mail["From"] = settings.MAIL_FROM
    mail["To"] = Address(display_name=context["name"], addr_spec=data.to)
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(domain=_domain(settings.MAIL_FROM))
    mail.set_content(templates.get_template(f"{kind.name}.txt").render(context))
    mail.add_alternative(templates.get_template(f"{kind.name}.html").render(context),
                         subtype="html")
    return mail


def _context(kind, data, settings):
    context = {**data.model_dump(), "name": _one_line(data.name or ""),
               "link": link(settings.PUBLIC_BASE_URL, kind, data)}
    if expires_at := context.get("expires_at"):
        context["expires"] = readable_time(expires_at)
    if role := context.get("role"):
        context["role_title"] = ROLE_TITLES[role]
    return context


def link(base_url, kind, data):
    """The mailed link: `{base_url}{kind.link_path}`, its `{fields}` from
    `data`, then `?token=…` if `data` has a token."""
    fields = {key: quote(str(value), safe="") for key, value in data.model_dump().items()}
    path = f"{base_url.rstrip('/')}{kind.link_path.format_map(fields)}"
    token = fields.get("token")
    return f"{path}?token={token}" if token else path


def readable_time(moment):
    """`2030-03-14T09:00:00+08:00` → `14 March 2030, 01:00 UTC`."""
    moment = datetime.fromisoformat(moment).astimezone(UTC)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def _one_line(text):
    """No header can be split or smuggled in by a name or an event name."""
    return " ".join(text.split())


def _domain(address):
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


@cache
def _templates():
    templates = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                            autoescape=select_autoescape(enabled_extensions=("html",),
                                                         default_for_string=False),
                            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    templates.filters["readable_time"] = readable_time
    return templates
