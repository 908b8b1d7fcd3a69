"""The notifications service turns the roles and webhooks services'
messages into mails, at most one per message, against the real RabbitMQ,
PostgreSQL and a real maildev; the stand-in roles service (`roles_stub`)
mints the tokens and names event owners. And its connection to a mail
server: TLS verified, STARTTLS never falling back to the clear.

Messages are published as their source's outbox relay publishes them: on
`roles.events` (or `webhooks.events`), logged in as it, with the AMQP
`message_id` set."""
import datetime
import ipaddress
import logging
import smtplib
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from contracts.roles.messages import (
    InviteCreated,
    InviteResent,
    PasswordResetRequested,
    UserRegistered,
    VerificationRequested,
)
from contracts.webhooks.messages import WebhookDisabled
from services.notifications.kinds import VERIFY_EMAIL
from services.notifications.mailer import SmtpServer
from services.notifications.mails import compose
from services.notifications.models import SentMail
from services.notifications.settings import NotificationsSettings
from tests.support.broker import publish_event
from tests.support.mailbox import Mailbox
from tests.support.roles_stub import Policy
from tests.support.tap import wait_until

BASE_URL = "http://media.test"  # service_config's PUBLIC_BASE_URL
EXPIRES_AT = "2030-03-14T09:00:00+00:00"


def publish(amqp_uri, message):
    publish_event(amqp_uri, message.to_payload(), message.message_id, source=message.source,
                  event_type=message.event_type)


def handled(caplog, message):
    """How many times the service has handled `message` (its handler
    acked it: `shared.handlers` logs each)."""
    line = f"handled {message.event_type} {message.message_id}"
    return sum(line in record.getMessage() for record in caplog.records)


def sent_mails(session):
    session.expire_all()
    return session.scalars(select(SentMail).order_by(SentMail.id)).all()


def invite_created(invite_id):
    return InviteCreated(invite_id=invite_id, event_id=1, event_name="Open Tech Summit",
                         email=Policy.address("invite_mail", invite_id), role="organizer",
                         expires_at=EXPIRES_AT)


# each message, the lookup it makes, the link its mail carries, its subject
MAILS = {
    "user.registered": (
        lambda n: UserRegistered(user_id=n, email=f"user{n}@example.org", name=f"User {n}"),
        "verification_mail", "/verify-email", "Verify your email"),
    "email_verification.requested": (
        lambda n: VerificationRequested(user_id=n, email=f"user{n}@example.org"),
        "verification_mail", "/verify-email", "Verify your email"),
    "invite.created": (invite_created, "invite_mail", "/role-invites/accept",
                       "invites you to the team of Open Tech Summit"),
    "invite.resent": (
        lambda n: InviteResent(invite_id=n, event_id=1, email=f"invitee{n}@example.org",
                               role="organizer", expires_at=EXPIRES_AT),
        "invite_mail", "/role-invites/accept", "invites you to the team of Open Tech Summit"),
    "password_reset.requested": (
        lambda n: PasswordResetRequested(user_id=n),
        "password_reset_mail", "/reset-password", "Reset your Open Event password"),
}


@pytest.fixture(autouse=True)
def captured_logs(caplog):
    """Every line at the services' level (`LOG_LEVEL`, INFO), and this
    service's own down to DEBUG. (Below INFO, nameko's RPC proxy logs each
    answer it receives, tokens included.)"""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="services.notifications")
    return caplog


@pytest.mark.parametrize("event_type", MAILS)
def test_each_message_is_mailed_with_the_link_minted_for_it(
        event_type, notifications, roles_stub, mailbox, amqp_uri, notifications_session):
    make, lookup, path, subject = MAILS[event_type]
    message = make(7)
    address = Policy.address(lookup, 7)

    publish(amqp_uri, message)

    mail = mailbox.wait_for(to=address, subject_contains=subject)
    [token] = roles_stub.tokens(lookup, 7)
    assert Mailbox.link_token(mail, path) == token
    assert f"{BASE_URL}{path}?token={token}" in mail["text"]
    assert f'href="{BASE_URL}{path}?token={token}"' in mail["html"]
    [row] = wait_until(lambda: sent_mails(notifications_session))
    assert (row.message_id, row.recipient, row.outcome, row.error) == (
        message.message_id, address, "sent", None)
    assert subject in row.subject
    assert token not in f"{row.recipient} {row.subject} {row.error}"  # nor its link


def test_the_invitation_names_the_event_the_inviter_the_role_and_the_expiry(
        notifications, roles_stub, mailbox, amqp_uri):
    publish(amqp_uri, invite_created(3))

    mail = mailbox.wait_for(to="invitee3@example.org")
    for body in (mail["text"], mail["html"]):
        assert "Open Tech Summit" in body and "Olga Owner" in body
        assert "organizer" in body and "14 March 2030, 09:00 UTC" in body


def test_a_message_delivered_twice_is_mailed_once(
        notifications, roles_stub, mailbox, amqp_uri, notifications_session, caplog):
    message = invite_created(5)

    publish(amqp_uri, message)
    mailbox.wait_for(to="invitee5@example.org")
    publish(amqp_uri, message)  # the same message id, as a redelivery

    wait_until(lambda: handled(caplog, message) == 2)
    assert len(mailbox.mails(to="invitee5@example.org")) == 1
    assert len(roles_stub.tokens("invite_mail", 5)) == 1  # not even asked again
    assert [row.outcome for row in sent_mails(notifications_session)] == ["sent"]


def test_no_mail_when_the_roles_service_says_none_is_due(
        notifications, roles_stub, mailbox, amqp_uri, notifications_session, caplog):
    roles_stub.not_due.add(("password_reset_mail", 9))
    message = PasswordResetRequested(user_id=9)

    publish(amqp_uri, message)

    [row] = wait_until(lambda: sent_mails(notifications_session))
    assert (row.kind, row.outcome, row.recipient, row.subject) == (
        "password_reset", "not_due", None, None)
    assert "no mail is due" in row.error
    wait_until(lambda: handled(caplog, message) == 1)
    assert mailbox.mails() == []


def webhook_disabled(event_id):
    return WebhookDisabled(webhook_id=40 + event_id, event_id=event_id,
                           origin="https://crm.example.org",
                           failing_since=datetime.datetime(2030, 3, 14, 9, tzinfo=datetime.UTC))


def test_a_webhook_disabled_is_mailed_to_the_event_s_owner_once(
        notifications, roles_stub, mailbox, amqp_uri, notifications_session, caplog):
    message = webhook_disabled(7)

    publish(amqp_uri, message)
    mail = mailbox.wait_for(to="owner7@example.org")
    publish(amqp_uri, message)  # the same message id, as a redelivery

    assert mail["subject"] == "Your webhook to https://crm.example.org for Event 7 was disabled"
    link = f"{BASE_URL}/events/7/webhooks/47"
    for body in (mail["text"], mail["html"]):
        assert "Owner 7" in body and "14 March 2030, 09:00 UTC" in body
        assert "PATCH /v1/events/7/webhooks/47" in body and link in body
    assert "token" not in mail["text"] + mail["html"]
    wait_until(lambda: handled(caplog, message) == 2)
    assert len(mailbox.mails(to="owner7@example.org")) == 1
    assert roles_stub.owners_asked == [7]  # not even asked again
    [row] = sent_mails(notifications_session)
    assert (row.message_id, row.kind, row.recipient, row.outcome) == (
        message.message_id, "webhook_disabled", "owner7@example.org", "sent")


def test_no_mail_for_a_webhook_disabled_of_an_event_deleted_since(
        notifications, roles_stub, mailbox, amqp_uri, notifications_session, caplog):
    roles_stub.gone.add(8)
    message = webhook_disabled(8)

    publish(amqp_uri, message)

    [row] = wait_until(lambda: sent_mails(notifications_session))
    assert (row.kind, row.outcome, row.recipient) == ("webhook_disabled", "not_due", None)
    assert "no event 8" in row.error
    wait_until(lambda: handled(caplog, message) == 1)
    assert mailbox.mails() == []


def outages(caplog):
    """How many times a handler has met an outage (`shared.handlers`)."""
    return sum("met an outage" in record.getMessage() for record in caplog.records)


def test_while_the_mail_server_is_away_the_message_waits_and_is_mailed_once_it_is_back(
        notifications, roles_stub, mailbox, amqp_uri, notifications_session, caplog):
    mailbox.stop()
    message = UserRegistered(user_id=11, email="user11@example.org", name="User 11")

    publish(amqp_uri, message)
    wait_until(lambda: outages(caplog) >= 3, timeout=10)
    assert roles_stub.minted == []  # no link is minted for a mail that cannot go
    assert sent_mails(notifications_session) == []
    mailbox.start()

    mail = mailbox.wait_for(to="user11@example.org")
    wait_until(lambda: handled(caplog, message) == 1)
    assert len(mailbox.mails(to="user11@example.org")) == 1
    [token] = roles_stub.tokens("verification_mail", 11)
    assert Mailbox.link_token(mail, "/verify-email") == token
    assert [row.outcome for row in sent_mails(notifications_session)] == ["sent"]


def test_no_token_and_no_link_is_ever_logged(
        notifications, roles_stub, mailbox, amqp_uri, caplog):
    mailbox.stop()
    messages = [UserRegistered(user_id=12, email="user12@example.org", name="User 12"),
                invite_created(12), PasswordResetRequested(user_id=12)]
    for message in messages:
        publish(amqp_uri, message)
    wait_until(lambda: outages(caplog) >= 6, timeout=10)
    mailbox.start()
    wait_until(lambda: all(handled(caplog, message) for message in messages), timeout=10)

    logged = caplog.text  # every line, with its traceback
    assert len(roles_stub.minted) == len(mailbox.mails()) == 3
    assert not [token for _, _, token in roles_stub.minted if token in logged]
    assert "?token=" not in logged


def test_health(notifications):
    assert notifications.health() == {"service": "notifications", "database": "ok"}


# the connection to the mail server, against maildev with TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate of 127.0.0.1 and its key: (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return directory / "cert.pem", directory / "key.pem"


@pytest.fixture(scope="module")
def tls_mailbox(certificate):
    """maildev speaking TLS from the start (SMTPS) with `certificate`."""
    cert, key = certificate
    with Mailbox(options=("--incoming-secure", "--incoming-cert", str(cert),
                          "--incoming-key", str(key))) as mailbox:
        yield mailbox


def smtp_server(mailbox, tls):
    return SmtpServer(NotificationsSettings(ENVIRONMENT="test", **{
        **mailbox.smtp_settings, "SMTP_TLS": tls, "SMTP_TIMEOUT": 5}))


def a_mail(to):
    return compose(VERIFY_EMAIL, {"to": to, "name": None, "token": "t0k3n",
                                  "expires_at": EXPIRES_AT},
                   NotificationsSettings(ENVIRONMENT="test"))


def test_over_tls_the_mail_goes_to_a_server_whose_certificate_is_trusted(
        tls_mailbox, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the system's trust, here

    smtp_server(tls_mailbox, "tls").send(a_mail("tls@example.org"))

    assert tls_mailbox.wait_for(to="tls@example.org")


def test_a_certificate_not_trusted_is_refused_not_waited_out(tls_mailbox):
    with pytest.raises(ssl.SSLCertVerificationError):
        smtp_server(tls_mailbox, "tls").send(a_mail("untrusted@example.org"))


def test_starttls_to_a_server_that_offers_none_sends_nothing_in_the_clear(mailbox):
    with pytest.raises(smtplib.SMTPNotSupportedError):
        smtp_server(mailbox, "starttls").send(a_mail("clear@example.org"))

    assert mailbox.mails() == []

