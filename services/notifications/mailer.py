"""`Mailer`: sends a composed mail through the SMTP server of the settings
(`SMTP_*`), one connection per mail: TLS from the start or by STARTTLS if
asked (the server's certificate verified; a server without STARTTLS is
refused, never spoken to in the clear), a login if a user is set.

What a failure means (`failure`), and why:

- the server away – connection refused, a timeout, a hang-up, or a
  temporary refusal (4xx) – is `MailServerAway`, an `Outage`: the handler
  retries after its first delay as often as it takes, without counting,
  so no mail is lost while the server is away;
- a refusal for good of the mail itself – 5xx to its recipient or to its
  content – is `MailRefused`, which the caller records as the outcome
  `refused` with the server's answer, sending nothing more. No retry can
  change the server's mind, and a dead letter would only hand an operator
  a replay that mints a fresh link for the same refusal; `sent_mails`
  says what was refused and why;
- anything else – our own configuration refused (the login, the sender,
  TLS) or a bug – is raised as it is: retried, then dead-lettered, to be
  replayed once the configuration is fixed.

A mail the server has taken is sent: an error while hanging up afterwards
changes nothing. Nothing here logs a mail, its link or its recipient.
"""
import smtplib
import ssl
from contextlib import contextmanager

from nameko.extensions import DependencyProvider

from services.notifications.exceptions import MailRefused, MailServerAway
from services.notifications.settings import NotificationsSettings
from shared.settings import settings_of


def failure(exc):
    """What `exc`, met while sending, means: a `MailServerAway`, a
    `MailRefused`, or None (raise it as it is)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(_permanent(code) for code in codes):
            return MailRefused(f"the mail server refused the recipient: {_answers(exc)}")
        return MailServerAway(f"the mail server deferred the recipient: {_answers(exc)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        if 400 <= exc.smtp_code < 500:
            return MailServerAway(f"the mail server said to try later: {_answer(exc)}")
        if isinstance(exc, smtplib.SMTPDataError) and _permanent(exc.smtp_code):
            return MailRefused(f"the mail server refused the mail: {_answer(exc)}")
        return None
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailServerAway(f"the mail server hung up: {exc}")
    if isinstance(exc, smtplib.SMTPException | ssl.SSLError):
        return None  # SMTPException is an OSError: configuration, not an outage
    if isinstance(exc, OSError):  # refused, unreachable, timed out
        return MailServerAway(f"the mail server cannot be reached: {exc!r}")
    return None


def _permanent(code):
    return 500 <= code < 600


def _answer(exc):
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _answers(exc):
    return "; ".join(f"{code} {_text(message)}" for code, message in exc.recipients.values())


def _text(message):
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


class SmtpServer:
    """The mail server of `settings`."""

    def __init__(self, settings):
        self.settings = settings
        self.tls = ssl.create_default_context()

    def send(self, mail):
        """Send `mail` (an `EmailMessage`) on a connection of its own."""
        with self.connection() as connection:
            connection.send(mail)

    @contextmanager
    def connection(self):
        """A connection to the server, open (and logged in), to `send(mail)`
        on; hung up after the block. Opening and sending raise
        `MailServerAway` or `MailRefused` as `failure` says, else whatever
        went wrong."""
        with _meaning():
            smtp = self._open()
        try:
            yield Connection(smtp)
        finally:
            _hang_up(smtp)

    def _open(self):
        settings = self.settings
        if settings.SMTP_TLS == "tls":
            smtp = smtplib.SMTP_SSL(settings.SMTP_HOST, settings.SMTP_PORT,
                                    timeout=settings.SMTP_TIMEOUT, context=self.tls)
        else:
            smtp = smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT,
                                timeout=settings.SMTP_TIMEOUT)
        try:
            if settings.SMTP_TLS == "starttls":
                smtp.starttls(context=self.tls)
            if settings.SMTP_USER:
                smtp.login(settings.SMTP_USER, settings.SMTP_PASSWORD)
        except BaseException:
            smtp.close()
            raise
        return smtp


class Connection:
    def __init__(self, smtp):
        self._smtp = smtp

    def send(self, mail):
        with _meaning():
            self._smtp.send_message(mail)


@contextmanager
def _meaning():
    """Raise what a failure in the block means (`failure`), if it says."""
    try:
        yield
    except Exception as exc:
        meaning = failure(exc)
        if meaning is None:
            raise
        raise meaning from exc


def _hang_up(smtp):
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class Mailer(DependencyProvider):
    """`self.mailer`: the service's `SmtpServer`."""

    def setup(self):
        self.server = SmtpServer(settings_of(self.container, NotificationsSettings))

    def get_dependency(self, worker_ctx):
        return self.server
