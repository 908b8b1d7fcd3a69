"""Bad input, against the running system: every request here answers a 4xx
problem (RFC 9457) and stores nothing, or (a string in a body) is stored
as the very string sent.

- media keys that try to leave the media store or confuse the lookup:
  path traversal, NUL, very long, unicode, the blob's own hash;
- uploads that are no image, a broken one, a decompression bomb, one over
  the size limit, none at all: the media database (`media`, `blobs`, the
  media versions) and the files under MEDIA_ROOT stay as they were;
- SQL injection in every identifier (event refs, kinds, child, sponsor and
  invite ids), in `limit`/`offset`, and in the string fields of bodies
  (event and track names, invite emails): a 4xx, or the string stored
  verbatim (read back through the API and from the database); every table
  still there, no table with fewer rows; an invite to an odd but valid
  address stored is mailed like any other (the mail server takes it or
  refuses it; the message is not dead-lettered).

The last test reports the scenario's row: requests sent, 4xx answers, and
whether every test of the module passed.
"""
import io
from functools import cache
from urllib.parse import quote, urlparse

import PIL.Image
import pytest
from sqlalchemy import inspect, text

from services.gateway.settings import GatewaySettings
from services.media.settings import MediaSettings
from tests.e2e.helpers import assert_problem, png
from tests.support.broker import queue_depth
from tests.support.http import Api, ok, sign_up
from tests.support.media import png_claiming, stored
from tests.support.tap import wait_until

EVENT = {"name": "BadConf", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00", "state": "published"}
MAX_IMAGE_BYTES = GatewaySettings.model_fields["MAX_IMAGE_BYTES"].default
MEDIA_MAX_PIXELS = MediaSettings.model_fields["MEDIA_MAX_PIXELS"].default
LOGS = ("outbox", "inbox")  # what the services append to on their own


class Ledger:
    """Requests sent and 4xx answers, over the module."""

    def __init__(self):
        self.sent = 0
        self.client_errors = 0

    def count(self, response):
        self.sent += 1
        self.client_errors += 400 <= response.status_code < 500
        return response


class CountingApi(Api):
    def __init__(self, base_url, ledger, token=None):
        super().__init__(base_url, token)
        self.ledger = ledger

    def request(self, method, path, **kwargs):
        return self.ledger.count(super().request(method, path, **kwargs))


@pytest.fixture(scope="module")
def ledger(request):
    ledger = Ledger()
    ledger.failed_before = request.session.testsfailed
    return ledger


@pytest.fixture(scope="module")
def token(system):
    return sign_up(system.api, "owner").token


@pytest.fixture(scope="module")
def owner(system, token):
    """The owner, for requests that set up and read back."""
    return Api(system.base_url, token)


@pytest.fixture(scope="module")
def attacker(system, token, ledger):
    """The owner too, for the bad requests: these are counted."""
    return CountingApi(system.base_url, ledger, token)


@pytest.fixture(scope="module")
def world(system, owner):
    """The owner's event with a track, a sponsor (with a logo), an image and
    an invite: real rows for bad requests to aim at."""
    event = ok(owner.post("/v1/events", EVENT), 201)
    base = f"/v1/events/{event['id']}"
    track = ok(owner.post(f"{base}/tracks", {"name": "Main", "color": "#112233"}), 201)
    sponsor = ok(owner.post(f"{base}/sponsors", {"name": "ACME"}), 201)
    invite = ok(owner.post(f"{base}/role-invites", {"email": "guest@example.org",
                                                    "role": "coorganizer"}), 201)
    image = {"data": png(), "headers": {"Content-Type": "image/png"}}
    ok(owner.put(f"{base}/images/original", **image))
    ok(owner.put(f"/v1/sponsors/{sponsor['id']}/logo", **image))
    event = ok(owner.get(base))
    # the mails this sets off (the owner's verification, the invitation) are
    # sent, so that the tables stay still from here
    wait_until(lambda: mails_handled(system) == 2, timeout=30)
    return {"event": event, "track": track, "sponsor": sponsor, "invite": invite,
            "key": urlparse(event["original_image_url"]).path.rsplit("/", 1)[1]}


def mails_handled(system, kind=None):
    """The messages the notifications service has handled (one row of
    `sent_mails` each, whatever its outcome), of `kind` if given."""
    with system.engine("notifications").connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM sent_mails"
                                      + (" WHERE kind = :kind" if kind else "")),
                                 {"kind": kind})


def media_stored(system):
    return stored(system.engine("media"), system.env["MEDIA_ROOT"])


def table_counts(system):
    """service -> {table: rows}, for every table of every service's database."""
    counts = {}
    for service in ("events", "roles", "media", "notifications", "webhooks"):
        engine = system.engine(service)
        with engine.connect() as connection:
            counts[service] = {table: connection.scalar(text(f'SELECT count(*) FROM "{table}"'))
                               for table in inspect(connection).get_table_names()}
    return counts


def unchanged_domain(before, after):
    """Every table still there, and every table but the services' own logs
    (outbox, inbox) has the rows it had."""
    assert {s: set(t) for s, t in after.items()} == {s: set(t) for s, t in before.items()}
    changed = {(service, table): (rows, after[service][table])
               for service, tables in before.items() for table, rows in tables.items()
               if table not in LOGS and after[service][table] != rows}
    assert not changed, f"rows changed (before, after): {changed}"


# media keys

def key_cases():
    """name -> (the path after /media/, as sent, already percent-encoded)."""
    return {
        "traversal, encoded": "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "traversal, raw": "../../../../etc/passwd",
        "traversal, backslashes": "..%5C..%5C..%5Cetc%5Cpasswd",
        "traversal, overlong UTF-8": "%C0%AE%C0%AE%2F%C0%AE%C0%AE%2Fetc%2Fpasswd",
        "traversal, double encoded": "..%252F..%252Fetc%252Fpasswd",
        "NUL alone": "%00",
        "NUL after a valid shape": "a" * 32 + "%00",
        "NUL inside a traversal": "..%2F%00..%2Fetc%2Fpasswd",
        "long (2000)": "a" * 2000,
        "unicode": quote("ключ-ключ-ключ-ключ-ключ"),
        "emoji": quote("😀" * 20),
        "fullwidth letters": quote("ａ" * 32),
        "SQL": quote("' OR '1'='1' --"),
        "LIKE wildcards": quote("%" * 20),
        "LIKE underscore": "_" * 32,
    }


@pytest.mark.parametrize("path", key_cases().values(), ids=key_cases().keys())
def test_a_bad_media_key_is_a_problem_and_serves_nothing(system, attacker, world, path):
    before = media_stored(system)

    response = attacker.get(f"/media/{path}")

    assert_problem(response, 404)
    assert b"root:" not in response.content and b"PNG" not in response.content
    assert media_stored(system) == before


def test_a_key_that_is_not_a_public_key_serves_nothing(system, owner, attacker, world):
    """The blob's own hash (its file name under MEDIA_ROOT), the public key
    in another case, and with something after it."""
    key = world["key"]
    blob = media_stored(system)["blobs"][0]
    for path in (blob, key.upper(), f"{key}%00", f"{key}%2F..%2F{key}", f"{key}.png",
                 f"{key[:-1]}", key + "0"):
        assert_problem(attacker.get(f"/media/{path}"), 404)
    assert owner.get(f"/media/{key}").status_code == 200  # the control


def test_a_very_long_media_key_is_a_problem(attacker):
    assert_problem(attacker.get("/media/" + "a" * 10_000), 404)


def test_a_request_line_beyond_the_servers_limit_is_refused(attacker):
    # over MAX_URL_BYTES eventlet's server refuses the request itself, before
    # the gateway sees it: a bare 414, not a problem (README: known limits)
    assert attacker.get("/media/" + "a" * 40_000).status_code == 414


# uploads

def encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg():
    return encoded(PIL.Image.new("RGB", (200, 100), "orange"), "JPEG")


def bomb(fmt):
    """A real image, one colour, over MEDIA_MAX_PIXELS: a few KiB on the
    wire, hundreds of MiB decoded."""
    side = int(MEDIA_MAX_PIXELS ** 0.5) + 100
    return encoded(PIL.Image.new("1", (side, side)), fmt)


@cache
def uploads():
    """name -> (body, Content-Type sent, the status expected)."""
    whole_png, whole_jpeg = png(), jpeg()
    return {
        "text": (b"just some text, not an image\n", "image/png", 422),
        "HTML": (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
                 "image/png", 422),
        "SVG": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10"'
                b' height="10"><script>alert(1)</script></svg>', "image/svg+xml", 422),
        "PDF header": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
                       "application/pdf", 422),
        "truncated PNG": (whole_png[:len(whole_png) // 2], "image/png", 422),
        "PNG signature only": (whole_png[:8], "image/png", 422),
        "truncated JPEG": (whole_jpeg[:len(whole_jpeg) // 2], "image/jpeg", 422),
        "PNG bomb": (bomb("PNG"), "image/png", 413),
        "GIF bomb": (bomb("GIF"), "image/gif", 413),
        "PNG whose header claims 100000x100000": (png_claiming(100_000, 100_000), "image/png",
                                                  413),
        "over MAX_IMAGE_BYTES": (b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES), "image/png",
                                 413),
        "empty": (b"", "image/png", 422),
    }


TARGETS = {
    "event original": lambda world: f"/v1/events/{world['event']['id']}/images/original",
    "event logo": lambda world: f"/v1/events/{world['event']['identifier']}/images/logo",
    "sponsor logo": lambda world: f"/v1/sponsors/{world['sponsor']['id']}/logo",
}


@pytest.mark.parametrize("target", TARGETS.values(), ids=TARGETS.keys())
@pytest.mark.parametrize("upload", uploads().values(), ids=uploads().keys())
def test_a_bad_upload_is_a_problem_and_stores_nothing(system, owner, attacker, world, upload,
                                                      target):
    body, content_type, status = upload
    event = f"/v1/events/{world['event']['id']}"
    before = media_stored(system), urls(ok(owner.get(event)))

    response = attacker.put(target(world), data=body, headers={"Content-Type": content_type})

    assert_problem(response, status)
    assert (media_stored(system), urls(ok(owner.get(event)))) == before


def urls(event):
    return {field: value for field, value in event.items() if field.endswith("_url")}


# SQL injection

INJECTIONS = [
    "1 OR 1=1", "1' OR '1'='1", "'; DROP TABLE events; --", "1; DROP TABLE events",
    "1) OR (1=1", "1 UNION SELECT id FROM users", "1/**/OR/**/1=1", "$1", "%", "_",
    "1--", "\\'", "'||(SELECT password_hash FROM users LIMIT 1)||'",
]


def injected(value):
    return quote(value, safe="")


def identifier_requests(world):
    """(method, path, body) of every route, once per identifier it takes,
    with that identifier replaced by each injection; the others real."""
    event, track = world["event"], world["track"]
    sponsor, invite = world["sponsor"]["id"], world["invite"]["id"]
    for bad in map(injected, INJECTIONS + [f"{event['id']} OR 1=1", f"{event['id']}'--",
                                           f"{event['identifier']}' OR '1'='1"]):
        yield from [
            ("GET", f"/v1/events/{bad}", None),
            ("PATCH", f"/v1/events/{bad}", {"name": "Hacked"}),
            ("DELETE", f"/v1/events/{bad}", None),
            ("GET", f"/v1/events/{bad}/tracks", None),
            ("POST", f"/v1/events/{bad}/tracks", {"name": "Hacked", "color": "#000000"}),
            ("POST", f"/v1/events/{bad}/copy", None),
            ("GET", f"/v1/events/{bad}/role-invites", None),
            ("POST", f"/v1/events/{bad}/role-invites", {"email": "x@example.org",
                                                        "role": "owner"}),
            ("GET", f"/v1/events/{bad}/roles", None),
            ("PUT", f"/v1/events/{bad}/images/logo", png()),
            ("DELETE", f"/v1/events/{bad}/images/original", None),
            ("GET", f"/v1/events/{event['id']}/{bad}", None),  # kind
            ("POST", f"/v1/events/{event['id']}/tracks{bad}", {"name": "Hacked"}),
            ("GET", f"/v1/{bad}/{track['id']}", None),
            ("GET", f"/v1/tracks/{bad}", None),
            ("PATCH", f"/v1/tracks/{bad}", {"name": "Hacked"}),
            ("DELETE", f"/v1/tracks/{bad}", None),
            ("DELETE", f"/v1/tracks/{track['id']}{bad}", None),
            ("PUT", f"/v1/sponsors/{bad}/logo", png()),
            ("DELETE", f"/v1/sponsors/{bad}/logo", None),
            ("PUT", f"/v1/sponsors/{sponsor}{bad}/logo", png()),
            ("GET", f"/v1/role-invites/{bad}", None),
            ("PATCH", f"/v1/role-invites/{bad}", {"role": "organizer"}),
            ("DELETE", f"/v1/role-invites/{invite}{bad}", None),
            ("DELETE", f"/v1/role-invites/{bad}", None),
        ]
    for bad in map(injected, INJECTIONS):
        for path in (f"/v1/events/{event['id']}/tracks", f"/v1/events/{event['id']}/role-invites",
                     f"/v1/events/{event['id']}/roles"):
            yield ("GET", f"{path}?limit={bad}", None)
            yield ("GET", f"{path}?offset={bad}", None)
            yield ("GET", f"{path}?limit={bad}&limit=10", None)


def send(api, method, path, body):
    if isinstance(body, bytes):
        return api.request(method, path, data=body, headers={"Content-Type": "image/png"})
    return api.request(method, path, json=body)


def test_sql_in_an_identifier_or_a_page_is_a_problem_and_changes_nothing(system, owner, attacker,
                                                                       world):
    before = table_counts(system), media_stored(system)
    answered = {}

    for method, path, body in identifier_requests(world):
        response = send(attacker, method, path, body)
        answered[method, path] = response.status_code
        assert_problem(response, response.status_code)
        assert 400 <= response.status_code < 500, f"{method} {path}: {response.status_code}"

    unchanged_domain(before[0], table_counts(system))
    assert media_stored(system) == before[1]
    assert len(answered) > 300
    assert ok(owner.get(f"/v1/events/{world['event']['id']}"))["name"] == EVENT["name"]


STRINGS = INJECTIONS + [
    "Robert'); DROP TABLE tracks;--", "\"; DROP TABLE \"events\"; --",
    "$$; DROP TABLE events; $$", "x' AND pg_sleep(5) IS NULL --", "' OR ''='",
    "%' AND 1=0 UNION SELECT password_hash, email FROM users --", "-- comment",
]
EMAILS = ["o'reilly@example.org", "x'or'1'='1@example.org", "a'--@example.org",
          "drop-table-users;--@example.org", "'; DROP TABLE role_invites; --@example.org",
          "x@example.org' OR '1'='1", "\"x' or 1=1\"@example.org"]


def row(system, service, table, row_id, column):
    with system.engine(service).connect() as connection:
        return connection.scalar(text(f"SELECT {column} FROM {table} WHERE id = :id"),
                                 {"id": row_id})


def test_sql_in_a_string_field_is_refused_or_stored_as_sent(system, owner, attacker, world):
    """Each string a 4xx, or stored verbatim: read back through the API and
    from the database. Every table is still there and none lost a row."""
    before = table_counts(system)
    invitations_before = mails_handled(system, "role_invite")
    event = world["event"]
    created = {"events": 0, "tracks": 0, "role_invites": 0}

    for value in STRINGS:
        response = attacker.post("/v1/events", {**EVENT, "name": value})
        if stored_as_sent(response, value, "name"):
            created["events"] += 1
            assert ok(owner.get(f"/v1/events/{response.json()['id']}"))["name"] == value
            assert row(system, "events", "events", response.json()["id"], "name") == value
        response = attacker.post(f"/v1/events/{event['id']}/tracks",
                                 {"name": value, "color": "#123456"})
        if stored_as_sent(response, value, "name"):
            created["tracks"] += 1
            assert ok(owner.get(f"/v1/tracks/{response.json()['id']}"))["name"] == value
            assert row(system, "events", "tracks", response.json()["id"], "name") == value
        response = attacker.patch(f"/v1/tracks/{world['track']['id']}", {"name": value})
        if stored_as_sent(response, value, "name"):
            assert row(system, "events", "tracks", world["track"]["id"], "name") == value
    for value in EMAILS:
        response = attacker.post(f"/v1/events/{event['id']}/role-invites",
                                 {"email": value, "role": "moderator"})
        if stored_as_sent(response, value, "email"):
            created["role_invites"] += 1
            invite = ok(owner.get(f"/v1/role-invites/{response.json()['id']}"))
            assert invite["email"] == value
            assert row(system, "roles", "role_invites", invite["id"], "email") == value

    after = table_counts(system)
    assert {s: set(t) for s, t in after.items()} == {s: set(t) for s, t in before.items()}
    lost = {(service, table): (rows, after[service][table])
            for service, tables in before.items() for table, rows in tables.items()
            if after[service][table] < rows}
    assert not lost, f"tables that lost rows (before, after): {lost}"
    assert after["events"]["events"] - before["events"]["events"] == created["events"]
    assert after["events"]["tracks"] - before["events"]["tracks"] == created["tracks"]
    assert (after["roles"]["role_invites"] - before["roles"]["role_invites"]
            == created["role_invites"])
    assert created["events"] and created["tracks"] and created["role_invites"]
    wait_until(lambda: mails_handled(system, "role_invite")
               == invitations_before + created["role_invites"], timeout=30)
    uri = f"pyamqp://guest:guest@127.0.0.1:5672/{system.vhost}"
    assert queue_depth(uri, "notifications.dead-letters") in (0, None)


def stored_as_sent(response, value, field):
    """True for a 201/200 whose answer shows `value` as sent; False for a
    4xx problem; anything else fails."""
    if 400 <= response.status_code < 500:
        assert_problem(response, response.status_code)
        return False
    assert response.status_code in (200, 201), f"{value!r}: {response.status_code} {response.text}"
    assert response.json()[field] == value
    return True


# the scenario's row

def test_report(ledger, request, report):
    """Runs last: the row for docs/reliability.md."""
    passed = request.session.testsfailed == ledger.failed_before
    report(scenario="bad input", requests=ledger.sent, client_errors=ledger.client_errors,
           passed=passed)
    assert ledger.sent
