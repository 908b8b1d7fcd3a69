"""Operator command for the dead-letter queues.

    python -m shared.deadletters list [SERVICE ...]
    python -m shared.deadletters replay SERVICE MESSAGE_ID

`list` shows what waits in each service's dead-letter queue (nothing is
removed); `replay` sends one message back to the queue it failed from, with
its retry count reset, once the cause is fixed. Each service's queue is
read, and its message replayed, as that service: its own broker login, as
the service reads its settings (`shared.broker.login_of`), on the broker and
vhost of `AMQP_URI` (default: the service's `config.yml`); an `AMQP_URI`
with a login in it is used as it is. A replay keeps
the original's sender (`x-sender`): a message refused for its sender is
refused again.
"""
import argparse
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from amqp.exceptions import NotFound
from kombu import Connection

from shared.amqp import names_user, user_of
from shared.broker import login_of
from shared.handlers import (
    ATTEMPT_HEADER,
    DEAD_LETTERED_AT_HEADER,
    ERROR_HEADER,
    ORIGINAL_QUEUE_HEADER,
    dead_letter_queue,
    handlers_exchange,
)
from shared.settings import InvalidSettings

SERVICES = ("events", "roles", "media", "notifications", "webhooks")


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    queue: str
    error: str
    dead_lettered_at: str
    body: object


def _describe(message):
    headers = message.headers or {}
    death = _broker_death(headers)
    return DeadLetter(
        message_id=message.properties.get("message_id") or "",
        queue=original_queue(headers),
        error=headers.get(ERROR_HEADER) or f"dead-lettered by the broker: {death.get('reason')}",
        dead_lettered_at=headers.get(DEAD_LETTERED_AT_HEADER) or str(death.get("time", "")),
        body=message.payload,
    )


def _broker_death(headers):
    """The latest of the broker's own dead-letterings (`x-death`), if any."""
    return (headers.get("x-death") or [{}])[0]


def original_queue(headers):
    """The queue a dead letter failed from: the handler's header, or, for one
    the broker dead-lettered (a quorum queue's delivery limit), its `x-death`."""
    return headers.get(ORIGINAL_QUEUE_HEADER) or _broker_death(headers).get("queue", "")


@contextmanager
def _fetched(connection, service):
    """Every message of the service's dead-letter queue, unacked: whatever
    is not acked goes back to the queue when the channel closes."""
    channel = connection.channel()
    try:
        queue = dead_letter_queue(service)(channel)
        try:  # passive: as it is, classic or quorum (shared.queues)
            queue.queue_declare(passive=True)
        except NotFound:
            yield []
            return
        messages = []
        while (message := queue.get(no_ack=False)) is not None:
            messages.append(message)
        yield messages
    finally:
        channel.close()


def list_dead_letters(amqp_uri, service):
    """What waits in `service`'s dead-letter queue; `amqp_uri` logs in as
    the service."""
    with Connection(amqp_uri) as connection, _fetched(connection, service) as messages:
        return [_describe(message) for message in messages]


def replay(amqp_uri, service, message_id):
    """Send the dead letter `message_id` back to its queue, as `service`
    (whose login `amqp_uri` is); True if found."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        with _fetched(connection, service) as messages:
            for message in messages:
                if message.properties.get("message_id") != message_id:
                    continue
                headers = dict(message.headers)
                queue = original_queue(headers)
                headers.pop(ORIGINAL_QUEUE_HEADER, None)
                for parked in (ATTEMPT_HEADER, ERROR_HEADER, DEAD_LETTERED_AT_HEADER):
                    headers.pop(parked, None)
                connection.Producer().publish(
                    message.body,
                    exchange=handlers_exchange(service),
                    routing_key=queue,
                    user_id=user_of(amqp_uri),
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    message_id=message_id,
                    delivery_mode=2,
                )
                message.ack()
                return True
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m shared.deadletters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI"),
                        help="the broker and vhost (default: the services' AMQP_URI)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show dead letters")
    listing.add_argument("services", nargs="*", default=SERVICES)
    replaying = commands.add_parser("replay", help="send one dead letter back")
    replaying.add_argument("service")
    replaying.add_argument("message_id")
    args = parser.parse_args(argv)
    try:
        logins = {service: args.amqp_uri if args.amqp_uri and names_user(args.amqp_uri)
                  else login_of(service, args.amqp_uri)
                  for service in (args.services if args.command == "list" else [args.service])}
    except InvalidSettings as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.command == "list":
        for service in args.services:
            letters = list_dead_letters(logins[service], service)
            print(f"{service}: {len(letters)} dead letter(s)")
            for letter in letters:
                print(f"  {letter.message_id}  from {letter.queue}  at {letter.dead_lettered_at}")
                print(f"    {letter.error}")
        return 0
    if replay(logins[args.service], args.service, args.message_id):
        print(f"replayed {args.message_id}")
        return 0
    print(f"no dead letter {args.message_id} in {args.service}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
