"""What the redelivery, poison and race scenarios share: users and events
made over HTTP (each user verified by the link mailed to them, as anyone
who accepts an invite must be), every message the system publishes
captured from its exchanges (and published again, as it was), the
consumers the system has, when it has finished what it was given, and what
its databases hold.

Everything here waits by polling with a deadline; the one pause is a
careful client's, before it sends again a request refused with 503.
"""
import inspect
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import eventlet
from kombu import Connection, Exchange, Queue
from sqlalchemy import text

from services.events.service import EventsService
from services.media.service import MediaService
from services.notifications.service import NotificationsService
from services.roles.service import RolesService
from services.webhooks.service import WebhooksService
from shared.bounded import BUSY
from shared.handlers import MessageConsumer
from tests.support.broker import queue_depth, service_uri
from tests.support.http import ACCEPT_PATH, ok
from tests.support.http import sign_up as sign_up_over
from tests.support.media import image

EVENT = {"name": "PyCon", "starts_at": "2030-05-01T09:00:00+02:00",
         "ends_at": "2030-05-03T18:00:00+02:00"}
SOURCES = ("events", "roles", "media")  # the services that publish messages
CONSUMERS = ("events", "roles", "media", "notifications", "webhooks")  # who consume them
SERVICES = (*CONSUMERS, "gateway")
INVITATION = "invites you to the team of"  # the invitation mail's subject
EVENT_URL_FIELDS = ("logo_url", "original_image_url", "large_image_url",
                    "thumbnail_image_url", "icon_image_url")
RENDITION_FIELDS = ("original_image_url", "large_image_url", "thumbnail_image_url",
                    "icon_image_url")
HANDLED = re.compile(r"^(\w+) handled ([\w.]+) ([0-9a-f-]{36})$")
HANDLED_BATCH = re.compile(r"^(\w+) handled \d+ ([\w.]+): ([0-9a-f -]+)$")  # shared.batches
DEADLINE = 30.0
RETRY_PAUSE = 0.2  # a careful client's pause before it sends a refused request again
TOO_MANY_CLIENTS = "too many clients already"
RETRIED_503 = []  # the detail of every 503 a request was sent again after
DATABASE_AWAY = "the database is unavailable"


# the system's consumers


@dataclass(frozen=True)
class Handler:
    service: str
    method: str
    source: str
    event_type: str

    @property
    def queue(self):
        """nameko's queue of a service-pool event handler."""
        return f"evt-{self.source}-{self.event_type}--{self.service}.{self.method}"


def handlers():
    """Every `@consume` handler of the system, read from the services."""
    found = []
    for service in (EventsService, RolesService, MediaService, NotificationsService,
                    WebhooksService):
        for method, function in inspect.getmembers(service):
            for entrypoint in getattr(function, "nameko_entrypoints", ()):
                if isinstance(entrypoint, MessageConsumer):
                    found.append(Handler(service.name, method, entrypoint.source_service,
                                         entrypoint.event_type))
    return sorted(found, key=lambda handler: (handler.service, handler.method))


def consumers_of(event_type):
    return [handler for handler in handlers() if handler.event_type == event_type]


# people and events, over HTTP


def send(request, timeout=DEADLINE):
    """`request()` as a careful client sends it: again after a 503 (the
    contract's "a service or the database is away, retry"), until the
    deadline; the last answer. Each 503 is counted in `RETRIED_503`, and
    `unexplained_outages` tells whether the system had a reason for it."""
    deadline = time.monotonic() + timeout
    while True:
        response = request()
        if response.status_code != 503 or time.monotonic() >= deadline:
            return response
        RETRIED_503.append(response.json().get("detail"))
        eventlet.sleep(RETRY_PAUSE)


def send_patiently(request, timeout=120):
    """`request()` sent again after each 503 once its `Retry-After` has
    passed, as a client of a busy system does, until the deadline; (the
    last answer, the 503s by their code)."""
    deadline, refused = time.monotonic() + timeout, Counter()
    while True:
        response = request()
        if response.status_code != 503 or time.monotonic() >= deadline:
            return response, refused
        refused[response.json().get("code")] += 1
        eventlet.sleep(float(response.headers["Retry-After"]))


def sign_up(system, name="user", verified=True):
    """A `User` of the system, signed up and in as a careful client does;
    `verified`: the email verified by the link mailed to it."""
    return sign_up_over(system.api, name, send=send,
                        mailbox=system.mailbox if verified else None)


def png(colour="teal", width=1430, height=550):
    """A one-colour PNG, larger than every rendition's box; another colour,
    other bytes."""
    return image(colour, (width, height))


def create_event(person, name="PyCon"):
    return ok(send(lambda: person.api.post("/v1/events", {**EVENT, "name": name})), 201)


def put_image(person, path, content):
    return send(lambda: person.api.put(path, data=content,
                                       headers={"Content-Type": "image/png"}))


def invite(owner, event_id, email, role):
    return ok(send(lambda: owner.api.post(f"/v1/events/{event_id}/role-invites",
                                          {"email": email, "role": role})), 201)


def accept(person, invite_id):
    return send(lambda: person.api.patch(f"/v1/role-invites/{invite_id}",
                                         {"status": "accepted"}))


def invitation_links(system, email):
    """The tokens of the accept links mailed to `email`, oldest first."""
    return [system.mailbox.link_token(mail, ACCEPT_PATH) for mail in system.mailbox.mails(email)
            if INVITATION in mail["subject"]]


def invitation_link(system, email, seen=()):
    """The token of the first accept link mailed to `email` that is not in
    `seen`, once it has arrived."""
    return await_value(lambda: [token for token in invitation_links(system, email)
                                if token not in seen],
                       what=lambda: system.mailbox.mails(email))[0]


def accept_by_link(person, token, status="accepted"):
    return send(lambda: person.api.post("/v1/role-invites/accept",
                                        {"token": token, "status": status}))


def copy(person, event_id, key=None, name=None):
    """A copy, with an Idempotency-Key (a new one if none is given), so
    that sending it again after a 503 cannot make a second copy."""
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return send(lambda: person.api.post(f"/v1/events/{event_id}/copy",
                                        {"name": name} if name else None, headers=headers))


def unexplained_503s(since=0):
    """The 503s retried (since the `since`-th) that are not a database
    refusing work, nor heavy work (password hashing, image decoding) turned
    away while its bounded pool is full, as designed: a service that did
    not answer in time, say."""
    return [detail for detail in RETRIED_503[since:] if detail not in (DATABASE_AWAY, BUSY)]


def tally(problems):
    """Problems as {problem: how many times}, for a report row."""
    return dict(Counter(problems))


def log_marks(system):
    """Where each service's log ends now: `unexplained_outages(system,
    since=marks)` reads what was logged after."""
    return {service: system.log_path(service).stat().st_size
            for service in SERVICES if system.log_path(service).exists()}


def unexplained_outages(system, since=None):
    """The services' "database is unavailable" errors (logged after the
    `since` marks) whose cause is not the shared PostgreSQL refusing
    connections (other test systems may fill its `max_connections`): a
    deadlock, say, which is the system's own doing."""
    found = []
    for service in SERVICES:
        if not system.log_path(service).exists():
            continue
        with open(system.log_path(service), errors="replace") as log:
            log.seek((since or {}).get(service, 0))
            lines = log.read().splitlines()
        for line in lines:
            if DATABASE_AWAY not in line or '"level": "ERROR"' not in line:
                continue
            record = json.loads(line)
            if "exception" in record and TOO_MANY_CLIENTS not in record["exception"]:
                trace = record["exception"].strip().splitlines()
                cause = next((entry for entry in trace if "psycopg2." in entry), trace[-1])
                found.append(f"{service}: {record['message']}: {cause}")
    return found


# messages


@dataclass(frozen=True)
class Captured:
    """One message as the broker carried it."""

    source: str
    event_type: str
    message_id: str
    payload: dict
    headers: dict


class Capture:
    """A queue bound to every service's event exchange (`{service}.events`,
    all routing keys): it sees each message the system publishes, and each
    one a test publishes there."""

    def __init__(self, amqp_uri):
        self.amqp_uri = amqp_uri
        self.connection = Connection(amqp_uri)
        channel = self.connection.default_channel
        self.queue = Queue(f"capture-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True)
        self.queue(channel).declare()
        for source in SOURCES:
            exchange = Exchange(f"{source}.events", type="topic", durable=True)
            exchange(channel).declare()
            self.queue(channel).bind_to(exchange=exchange, routing_key="#")
        self.seen = []

    def drain(self):
        """The messages that arrived since the last call (also kept in `seen`)."""
        bound = self.queue(self.connection.default_channel)
        arrived = []
        while (message := bound.get(no_ack=True)) is not None:
            arrived.append(Captured(
                source=message.delivery_info["exchange"].removesuffix(".events"),
                event_type=message.delivery_info["routing_key"],
                message_id=message.properties.get("message_id"),
                payload=message.payload,
                headers=dict(message.headers or {}),
            ))
        self.seen.extend(arrived)
        return arrived

    def await_count(self, expected, timeout=DEADLINE, on_message=None):
        """Collect until `seen` holds `expected` (a Counter of event types);
        `on_message(captured)` is called for each message as it arrives."""
        deadline = time.monotonic() + timeout
        while True:
            for captured in self.drain():
                if on_message:
                    on_message(captured)
            have = Counter(captured.event_type for captured in self.seen)
            if all(have[kind] >= count for kind, count in expected.items()):
                return self.seen
            if time.monotonic() >= deadline:
                raise AssertionError(f"captured {dict(have)}, expected at least {dict(expected)}")
            eventlet.sleep(0.02)

    def close(self):
        self.connection.close()


def republish(amqp_uri, captured, times=1):
    """Publish `captured` again, `times` times, as it was: same exchange,
    routing key, message_id, headers and body (broker-confirmed)."""
    publish_all(amqp_uri, [captured] * times)


def publish_all(amqp_uri, messages):
    """Publish each Captured message as it is, as its source service does
    (its login and `user_id`), each confirmed by the broker before the next."""
    connections = {}
    try:
        for message in messages:
            if message.source not in connections:
                connections[message.source] = Connection(
                    service_uri(amqp_uri, message.source),
                    transport_options={"confirm_publish": True})
            exchange = Exchange(f"{message.source}.events", type="topic", durable=True,
                                no_declare=True)
            connections[message.source].Producer().publish(
                message.payload, exchange=exchange, routing_key=message.event_type,
                serializer="json", message_id=message.message_id, user_id=message.source,
                headers=message.headers, delivery_mode=2)
    finally:
        for connection in connections.values():
            connection.release()


def new_message(source, event_type, payload):
    """A message as the system's outbox relay would publish it, not sent yet."""
    return Captured(source, event_type, str(payload.get("message_id") or uuid.uuid4()),
                    payload, {})


def publish(amqp_uri, source, event_type, payload):
    """Publish a message as the system's outbox relay would; its id."""
    message = new_message(source, event_type, payload)
    publish_all(amqp_uri, [message])
    return message.message_id


def message_payload(**fields):
    """The common envelope of every message, around `fields`."""
    return {"message_id": str(uuid.uuid4()), "occurred_at": "2030-01-01T00:00:00+00:00",
            "version": 1, **fields}


# what the services did


def handled(system):
    """How many times each (service, event type, message id) was handled
    successfully, from the `handled` log line each delivery writes (a
    batch's: one for all its deliveries)."""
    counts = Counter()
    for service in CONSUMERS:
        if not system.log_path(service).exists():
            continue
        for line in system.log_path(service).read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            text = str(record.get("message", ""))
            if match := HANDLED.match(text) or HANDLED_BATCH.match(text):
                for message_id in match[3].split():
                    counts[(service, match[2], message_id)] += 1
    return counts


def await_handled(system, expected, timeout=DEADLINE, strict=True):
    """Until every (service, event type, message id) of `expected` (a
    Counter) was handled at least that many times; the counts. At the
    deadline: AssertionError, or (not `strict`) the counts as they are."""
    deadline = time.monotonic() + timeout
    while True:
        counts = handled(system)
        missing = {key: (counts[key], times) for key, times in expected.items()
                   if counts[key] < times}
        if not missing:
            return counts
        if time.monotonic() >= deadline and not strict:
            return counts
        if time.monotonic() >= deadline:
            raise AssertionError(f"not handled in {timeout}s (handled, expected): {missing}\n"
                                 f"{system.log_tail()}")
        eventlet.sleep(0.05)


def queues(system):
    """Every queue the system's messages can wait in: each handler's queue,
    its retry queues, and each service's dead-letter queue."""
    names = []
    delays = json.loads(system.env["HANDLER_RETRY_DELAYS"])
    for handler in handlers():
        names.append(handler.queue)
        names += [f"{handler.queue}.retry.{attempt}" for attempt in range(1, len(delays) + 1)]
    names += [f"{service}.dead-letters" for service in CONSUMERS]
    return names


def depths(system):
    """Ready messages in each of `queues` that exists."""
    uri = amqp_uri(system)
    found = {name: queue_depth(uri, name) for name in queues(system)}
    return {name: depth for name, depth in found.items() if depth is not None}


def busy(system):
    """The queues that hold messages, with how many."""
    return {name: depth for name, depth in depths(system).items() if depth}


def pending_outbox(system):
    """Rows still waiting in each service's outbox."""
    return {service: scalar(system, service, "SELECT count(*) FROM outbox")
            for service in CONSUMERS}


def await_quiet(system, timeout=DEADLINE, dead_letters=None):
    """Until no outbox row and no ready message waits anywhere (but the
    dead letters expected: service → count)."""
    allowed = {f"{service}.dead-letters": count for service, count in (dead_letters or {}).items()}
    deadline = time.monotonic() + timeout
    while True:
        busy = {name: depth for name, depth in depths(system).items()
                if depth != allowed.get(name, 0)}
        busy.update({f"{service} outbox": rows for service, rows in pending_outbox(system).items()
                     if rows})
        if not busy:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"still busy after {timeout}s: {busy}")
        eventlet.sleep(0.05)


def amqp_uri(system):
    """The system's vhost, straight to RabbitMQ (past the proxy)."""
    return f"pyamqp://guest:guest@127.0.0.1:5672/{system.vhost}"


# what the databases hold


def rows(system, service, sql, **params):
    with system.engine(service).connect() as connection:
        return [row._asdict() for row in connection.execute(text(sql), params)]


def scalar(system, service, sql, **params):
    with system.engine(service).connect() as connection:
        return connection.scalar(text(sql), params)


def team(system, event_id):
    """The event's role rows as (user id, role), sorted; duplicates kept."""
    return sorted((row["user_id"], row["role"]) for row in rows(
        system, "roles", "SELECT user_id, role FROM users_events_roles WHERE event_id = :id",
        id=event_id))


def event_row(system, event_id):
    found = rows(system, "events", "SELECT * FROM events WHERE id = :id", id=event_id)
    return found[0] if found else None


def media_records(system, event_id, live_only=False):
    sql = ("SELECT id, owner_kind, owner_id, slot, blob_key, public_key, deleted_at"
           " FROM media WHERE event_id = :id")
    if live_only:
        sql += " AND deleted_at IS NULL"
    return rows(system, "media", sql + " ORDER BY id", id=event_id)


def media_version(system, event_id):
    return scalar(system, "media",
                  "SELECT version FROM event_media_versions WHERE event_id = :id", id=event_id)


def key_of(url):
    return url.rsplit("/", 1)[1] if url else None


def shown_keys(system, event_id):
    """The media keys the events service shows for the event and its live
    sponsors: {("event", field) | ("sponsor", id): key}."""
    event = event_row(system, event_id)
    shown = {("event", field): key_of(event[field]) for field in EVENT_URL_FIELDS
             if event[field]}
    for sponsor in rows(system, "events", "SELECT id, logo_url FROM sponsors"
                        " WHERE event_id = :id AND deleted_at IS NULL", id=event_id):
        if sponsor["logo_url"]:
            shown[("sponsor", sponsor["id"])] = key_of(sponsor["logo_url"])
    return shown


def live_keys(system, event_id):
    """The media service's live records of the event, keyed as `shown_keys`."""
    fields = {"logo": "logo_url", "original": "original_image_url",
              "large": "large_image_url", "thumbnail": "thumbnail_image_url",
              "icon": "icon_image_url"}
    keys = {}
    for record in media_records(system, event_id, live_only=True):
        where = (("event", fields[record["slot"]]) if record["owner_kind"] == "event"
                 else ("sponsor", record["owner_id"]))
        assert where not in keys, f"two live records for {where} of event {event_id}"
        keys[where] = record["public_key"]
    return keys


def await_value(read, timeout=DEADLINE, interval=0.05, what=None):
    """Poll `read()` until it answers something truthy; that value. At the
    deadline, AssertionError saying `what()` (what was seen instead)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = f": {what()}" if what else ""
            raise AssertionError(f"{getattr(read, '__name__', read)} not met within "
                                 f"{timeout}s{seen}")
        eventlet.sleep(interval)


def media_settled(system, event_id):
    """The event shows the newest change of its media (the media service's
    version) and exactly its live records."""
    version = media_version(system, event_id)
    event = event_row(system, event_id)
    return (version is not None and event["media_version"] == version
            and shown_keys(system, event_id) == live_keys(system, event_id))


def at_once(*calls):
    """Run the calls concurrently, each in a green thread, all started
    together; their results, in order (an exception raised is returned as
    the result). Each runs until its first wait on I/O before the next
    starts, so their requests are all in flight at once."""
    def run(call):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 (the caller looks at it)
            return exc

    pool = eventlet.GreenPool(len(calls))
    return list(pool.imap(run, calls))
