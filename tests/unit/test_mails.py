"""The notifications service without servers: each kind of mail as it is
composed (subject, text and HTML bodies, the link's fixed shape, escaping),
what each SMTP failure means, the flow of one message with fakes, and the
settings that keep an SMTP login from crossing the network in the clear."""
import smtplib
import socket
import ssl
from contextlib import contextmanager
from types import SimpleNamespace
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts.roles.errors import InviteNotFound, MailNotDue
from contracts.vocabulary import Role
from services.notifications import mailing
from services.notifications.exceptions import MailRefused, MailServerAway
from services.notifications.kinds import (
    KINDS,
    PASSWORD_RESET,
    ROLE_INVITE,
    VERIFY_EMAIL,
    WEBHOOK_DISABLED,
)
from services.notifications.mailer import SmtpServer, failure
from services.notifications.mails import ROLE_TITLES, compose
from services.notifications.models import KIND_NAMES
from services.notifications.settings import NotificationsSettings
from shared.settings import InvalidSettings, validated

SETTINGS = SimpleNamespace(PUBLIC_BASE_URL="https://events.example.org/",
                           MAIL_FROM="Open Event <no-reply@events.example.org>")
TOKEN = "k3y-Of_The.Link~42"
MAIL = {"to": "ana@example.org", "name": "Ana Lima", "token": TOKEN,
        "expires_at": "2030-03-14T09:00:00+08:00"}
INVITE_MAIL = {**MAIL, "event_name": "Open Tech Summit", "inviter_name": "Olga Owner",
               "role": "track_organizer"}
ANSWERS = {VERIFY_EMAIL: MAIL, ROLE_INVITE: INVITE_MAIL, PASSWORD_RESET: MAIL}
LINKS = {VERIFY_EMAIL: "https://events.example.org/verify-email?token=",
         ROLE_INVITE: "https://events.example.org/role-invites/accept?token=",
         PASSWORD_RESET: "https://events.example.org/reset-password?token="}
# roles.owner_mail's answer with the webhook.disabled message's fields
WEBHOOK_MAIL = {"to": "ana@example.org", "name": "Ana Lima", "event_name": "Open Tech Summit",
                "event_id": 12, "webhook_id": 7, "origin": "https://crm.example.org",
                "failing_since": "2030-03-14T09:00:00+08:00"}


def bodies(mail):
    return (mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content())


# composing


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind in ANSWERS],
                         ids=lambda kind: kind.name)
def test_each_kind_with_a_token_is_text_and_html_with_its_link_on_the_public_base_url(kind):
    mail = compose(kind, ANSWERS[kind], SETTINGS)
    text, html = bodies(mail)

    assert mail.get_content_type() == "multipart/alternative"
    assert (mail["To"], mail["From"]) == ("Ana Lima <ana@example.org>", SETTINGS.MAIL_FROM)
    assert mail["Subject"] and mail["Date"] and mail["Message-ID"].endswith("@events.example.org>")
    assert LINKS[kind] + TOKEN in text
    assert f'href="{LINKS[kind]}{TOKEN}"' in html
    assert "14 March 2030, 01:00 UTC" in text and "14 March 2030, 01:00 UTC" in html


def test_kinds_are_the_recorded_kinds_with_one_link_each():
    assert tuple(kind.name for kind in KINDS) == KIND_NAMES
    assert len({kind.link_path for kind in KINDS}) == len(KINDS)


def test_the_invitation_names_the_event_the_inviter_and_the_role_by_its_title():
    mail = compose(ROLE_INVITE, INVITE_MAIL, SETTINGS)

    assert mail["Subject"] == "Olga Owner invites you to the team of Open Tech Summit"
    for body in bodies(mail):
        assert "Open Tech Summit" in body and "Olga Owner" in body
        assert "as track organizer" in " ".join(body.split())


def test_a_webhook_disabled_tells_the_owner_where_it_failed_since_when_and_how_to_re_enable_it():
    mail = compose(WEBHOOK_DISABLED, WEBHOOK_MAIL, SETTINGS)
    text, html = bodies(mail)

    assert mail["To"] == "Ana Lima <ana@example.org>"
    assert mail["Subject"] == (
        "Your webhook to https://crm.example.org for Open Tech Summit was disabled")
    link = "https://events.example.org/events/12/webhooks/7"
    assert f"{link}\n" in text and f'href="{link}"' in html  # a plain link: no token
    for body in (text, html):
        assert "https://crm.example.org" in body and "Open Tech Summit" in body
        assert "14 March 2030, 01:00 UTC" in body
        assert "PATCH /v1/events/12/webhooks/7" in body and '{"enabled": true}' in body
        assert "token" not in body


def test_a_webhook_disabled_escapes_the_event_name_in_html():
    answer = {**WEBHOOK_MAIL, "event_name": "<script>alert(1)</script>"}

    text, html = bodies(compose(WEBHOOK_DISABLED, answer, SETTINGS))

    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in text


def test_every_role_has_a_title():
    assert set(ROLE_TITLES) == set(Role)


def test_the_html_body_escapes_what_people_typed_and_the_text_body_keeps_it():
    answer = {**INVITE_MAIL, "event_name": "<script>alert(1)</script> & Co",
              "inviter_name": "<b>Olga</b>"}

    text, html = bodies(compose(ROLE_INVITE, answer, SETTINGS))

    assert "<script>" not in html and "<b>Olga" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;Olga&lt;/b&gt;" in html
    assert "<script>alert(1)</script> & Co" in text


def test_a_token_is_url_quoted_in_its_link():
    text, _ = bodies(compose(VERIFY_EMAIL, {**MAIL, "token": "a+b/c="}, SETTINGS))

    assert LINKS[VERIFY_EMAIL] + "a%2Bb%2Fc%3D" in text


def test_no_name_or_event_name_can_add_a_header():
    answer = {**INVITE_MAIL, "name": "Ana\r\nBcc: eve@example.org",
              "event_name": "Summit\nBcc: eve@example.org"}

    mail = compose(ROLE_INVITE, answer, SETTINGS)

    assert mail["Bcc"] is None
    assert "\n" not in mail["To"] and "\n" not in mail["Subject"]
    assert mail["To"].addresses[0].addr_spec == "ana@example.org"


def test_a_mail_without_a_name_greets_without_one():
    text, _ = bodies(compose(PASSWORD_RESET, {**MAIL, "name": None}, SETTINGS))

    assert text.startswith("Hello,\n")


def test_an_answer_without_its_token_is_refused():
    with pytest.raises(ValidationError):
        compose(VERIFY_EMAIL, {key: value for key, value in MAIL.items() if key != "token"},
                SETTINGS)


# what a failure to send means


def recipients_refused(code):
    return smtplib.SMTPRecipientsRefused({"ana@example.org": (code, b"5.1.1 no such user")})


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "ECONNREFUSED"),
    TimeoutError("timed out"),
    socket.gaierror(-3, "Temporary failure in name resolution"),
    smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    smtplib.SMTPConnectError(421, b"too busy"),
    smtplib.SMTPSenderRefused(451, b"try later", "no-reply@localhost"),
    smtplib.SMTPDataError(452, b"insufficient storage"),
    smtplib.SMTPAuthenticationError(454, b"temporary authentication failure"),
    recipients_refused(450),
], ids=repr)
def test_the_server_away_or_saying_try_later_is_an_outage(exc):
    assert isinstance(failure(exc), MailServerAway)


@pytest.mark.parametrize("exc, answer", [
    (recipients_refused(550), "550 5.1.1 no such user"),
    (smtplib.SMTPDataError(554, b"rejected as spam"), "554 rejected as spam"),
], ids=repr)
def test_a_refusal_for_good_of_the_mail_itself_is_refused_with_the_servers_answer(exc, answer):
    refused = failure(exc)

    assert isinstance(refused, MailRefused)
    assert answer in str(refused)


@pytest.mark.parametrize("exc", [
    smtplib.SMTPAuthenticationError(535, b"bad credentials"),
    smtplib.SMTPSenderRefused(553, b"sender not allowed", "no-reply@localhost"),
    smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
    smtplib.SMTPConnectError(554, b"go away"),
    ssl.SSLCertVerificationError(1, "certificate verify failed"),
    ValueError("a bug"),
], ids=repr)
def test_our_own_configuration_refused_or_a_bug_is_raised_as_it_is(exc):
    assert failure(exc) is None


def test_a_server_that_does_not_listen_is_away():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SimpleNamespace(SMTP_TLS="none", SMTP_HOST="127.0.0.1", SMTP_PORT=port,
                               SMTP_TIMEOUT=2, SMTP_USER="", SMTP_PASSWORD="")

    with pytest.raises(MailServerAway):
        SmtpServer(settings).send(compose(VERIFY_EMAIL, MAIL, SETTINGS))


# one message, with fakes


class FakeSession:
    def __init__(self):
        self.rows = []

    def add(self, row):
        self.rows.append(row)

    def flush(self):
        for number, row in enumerate(self.rows, 1):
            row.id = number


class FakeRoles:
    def __init__(self, error=None):
        self.error = error
        self.asked = []

    def verification_mail(self, user_id):
        self.asked.append(user_id)
        if self.error:
            raise self.error
        return MAIL


class FakeMailer:
    """An `SmtpServer` whose connection fails to open with `away`, and
    fails each mail with `error`."""

    def __init__(self, error=None, away=None):
        self.error, self.away = error, away
        self.sent = []

    @contextmanager
    def connection(self):
        if self.away:
            raise self.away
        yield self

    def send(self, mail):
        if self.error:
            raise self.error
        self.sent.append(mail)


def mail_once(roles, mailer, recipient="ana@example.org"):
    session, message = FakeSession(), SimpleNamespace(message_id=uuid4())
    mailing.mail_once(session, message, VERIFY_EMAIL, lambda: roles.verification_mail(7),
                      recipient, mailer, SETTINGS)
    [row] = session.rows
    assert (row.message_id, row.kind) == (message.message_id, "verify_email")
    return row


def test_a_mail_that_is_due_is_sent_and_recorded_without_its_link():
    mailer = FakeMailer()

    row = mail_once(FakeRoles(), mailer)

    assert [mail["To"] for mail in mailer.sent] == ["Ana Lima <ana@example.org>"]
    assert (row.outcome, row.recipient, row.error) == ("sent", "ana@example.org", None)
    assert row.subject == "Verify your email address for Open Event"
    assert TOKEN not in f"{row.recipient} {row.subject} {row.error}"


@pytest.mark.parametrize("error", [MailNotDue("the email is verified already"),
                                   InviteNotFound("no invite 7")], ids=repr)
def test_no_mail_is_sent_when_none_is_due(error):
    mailer = FakeMailer()

    row = mail_once(FakeRoles(error), mailer, recipient=None)

    assert mailer.sent == []
    assert (row.outcome, row.recipient, row.subject, row.error) == (
        "not_due", None, None, error.detail)


def test_a_mail_refused_for_good_is_recorded_with_the_servers_answer_and_not_retried():
    row = mail_once(FakeRoles(), FakeMailer(MailRefused("550 no such user")))

    assert (row.outcome, row.recipient, row.error) == (
        "refused", "ana@example.org", "550 no such user")


def test_the_mail_server_away_is_raised_for_the_handler_to_wait_out_before_any_token_is_minted():
    roles = FakeRoles()

    with pytest.raises(MailServerAway):
        mail_once(roles, FakeMailer(away=MailServerAway("connection refused")))
    assert roles.asked == []


def test_the_mail_server_lost_after_the_lookup_is_raised_too():
    with pytest.raises(MailServerAway):
        mail_once(FakeRoles(), FakeMailer(MailServerAway("the mail server hung up")))


# settings


def settings(**config):
    return validated(NotificationsSettings, {"ENVIRONMENT": "production", **config})


def test_the_defaults_send_to_the_local_mail_catcher_without_a_login():
    defaults = settings()

    assert (defaults.SMTP_HOST, defaults.SMTP_PORT, defaults.SMTP_TLS) == ("127.0.0.1", 1025,
                                                                           "none")
    assert defaults.SMTP_USER == defaults.SMTP_PASSWORD == ""


def test_production_refuses_a_login_in_the_clear_and_names_no_password():
    with pytest.raises(InvalidSettings) as refused:
        settings(SMTP_USER="mailer", SMTP_PASSWORD="hunter2-secret")

    assert "SMTP_PASSWORD" in str(refused.value) and "in the clear" in str(refused.value)
    assert "hunter2-secret" not in str(refused.value)
    assert settings(SMTP_USER="mailer", SMTP_PASSWORD="s", SMTP_TLS="starttls").SMTP_USER
    assert validated(NotificationsSettings, {"ENVIRONMENT": "development", "SMTP_USER": "m",
                                             "SMTP_PASSWORD": "s"}).SMTP_USER == "m"


@pytest.mark.parametrize("login", [{"SMTP_USER": "mailer"}, {"SMTP_PASSWORD": "secret"}])
def test_a_login_is_a_user_and_a_password_together(login):
    with pytest.raises(InvalidSettings, match="go together"):
        settings(SMTP_TLS="tls", **login)
