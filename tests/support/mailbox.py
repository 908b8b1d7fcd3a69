"""The mail catcher as tests use it: maildev (`make install` puts it in
node_modules) on free ports of 127.0.0.1, read through its REST API.

    with Mailbox() as mailbox:
        config = {**config, **mailbox.smtp_settings}   # where the service sends
        mail = mailbox.wait_for(to="ana@example.org", subject_contains="Verify")
        token = Mailbox.link_token(mail, "/verify-email")

A mail is maildev's JSON of it (`GET /api/email`): `subject`, `to` and
`from` (lists of `{address, name}`), `text`, `html`, `headers`, `time`.
`stop()` takes the SMTP server away (the port refuses connections) and
`start()` brings it back on the same ports, with the mails caught before.
`options` are further maildev flags (`--incoming-secure`, …).
"""
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.tap import wait_until

ROOT = Path(__file__).resolve().parents[2]
MAILDEV = ROOT / "node_modules" / ".bin" / "maildev"
HOST = "127.0.0.1"
LINK = re.compile(r"https?://[^\s<>\"']+")


class Mailbox:
    def __init__(self, smtp_port=None, web_port=None, options=()):
        from tests.support.system import free_port  # system.py starts a Mailbox itself

        self.smtp_port = smtp_port or free_port()
        self.web_port = web_port or free_port()
        self.api = f"http://{HOST}:{self.web_port}/api"
        self.options = tuple(options)
        self._directory = None
        self._process = None

    @property
    def smtp_settings(self):
        """The notifications service's settings that send to this mailbox."""
        return {"SMTP_HOST": HOST, "SMTP_PORT": self.smtp_port, "SMTP_TLS": "none"}

    @property
    def inbox_url(self):
        """The inbox in a browser."""
        return f"http://{HOST}:{self.web_port}/"

    def start(self, timeout=30):
        """Start maildev (again) and wait until it takes mail and answers."""
        if self._process is not None:
            return self
        if not MAILDEV.exists():
            raise RuntimeError(f"{MAILDEV} is missing: run `make install`")
        self._directory = self._directory or Path(tempfile.mkdtemp(prefix="mailbox-"))
        self._log = open(self._directory / "maildev.log", "ab")
        self._process = subprocess.Popen(
            [str(MAILDEV), "--ip", HOST, "--smtp", str(self.smtp_port), "--web-ip", HOST,
             "--web", str(self.web_port), "--mail-directory", str(self._directory / "mails"),
             *self.options],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._ready, timeout=timeout, interval=0.1)
        except AssertionError:
            self.stop()
            raise RuntimeError(f"maildev did not come up within {timeout}s: "
                               f"{self._output()}") from None
        return self

    def stop(self):
        """Stop maildev: its SMTP port refuses connections until `start()`."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        self._log.close()

    def close(self):
        """Stop maildev and forget every mail."""
        self.stop()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def mails(self, to=None):
        """Every mail caught, oldest first; only those to `to` if given."""
        answer = requests.get(f"{self.api}/email", timeout=10)
        answer.raise_for_status()
        return [mail for mail in answer.json() if to is None or _is_to(mail, to)]

    def clear(self):
        requests.delete(f"{self.api}/email/all", timeout=10).raise_for_status()

    def wait_for(self, to, subject_contains=None, timeout=10):
        """The first mail to `to` (with `subject_contains` in its subject, if
        given) once it has arrived; AssertionError after `timeout` seconds."""
        def found():
            return [mail for mail in self.mails(to)
                    if subject_contains is None or subject_contains in mail["subject"]]
        try:
            return wait_until(found, timeout=timeout, interval=0.05)[0]
        except AssertionError:
            caught = [(mail["subject"], [r["address"] for r in mail["to"]])
                      for mail in self.mails()]
            raise AssertionError(f"no mail to {to}" + (
                f" about {subject_contains!r}" if subject_contains else "")
                + f" within {timeout}s; caught: {caught}") from None

    @staticmethod
    def link_token(mail, path):
        """The `token` of the link to `path` in the mail's text body."""
        for url in LINK.findall(mail["text"]):
            parts = urlsplit(url)
            if parts.path == path and "token" in parse_qs(parts.query):
                return parse_qs(parts.query)["token"][0]
        raise AssertionError(f"no link to {path} with a token in {mail['subject']!r}")

    def _ready(self):
        """Whether maildev takes mail and answers its API (it is up)."""
        if self._process.poll() is not None:
            status = self._process.returncode
            self.stop()
            raise RuntimeError(f"maildev exited with status {status}: {self._output()}")
        try:
            socket.create_connection((HOST, self.smtp_port), timeout=1).close()
            return requests.get(f"{self.api}/healthz", timeout=1).ok
        except (OSError, requests.RequestException):
            return False

    def _output(self):
        return (self._directory / "maildev.log").read_text(errors="replace")[-2000:]


def _is_to(mail, address):
    return address.lower() in {recipient["address"].lower() for recipient in mail["to"]}
