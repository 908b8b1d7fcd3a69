"""Listen to a service's event exchange from a test, the way a consumer
would: a queue bound to `{service}.events` that the test reads with a
deadline."""
import time

import eventlet
from kombu import Connection, Exchange, Queue


class EventTap:
    def __init__(self, amqp_uri, service, routing_key="#"):
        self.connection = Connection(amqp_uri)
        exchange = Exchange(f"{service}.events", type="topic", durable=True)
        self.queue = Queue(exclusive=True, exchange=exchange, routing_key=routing_key)(
            self.connection.default_channel
        )
        self.queue.declare()

    def next(self, timeout=5.0):
        """The next message as (routing key, payload); AssertionError if
        none arrives before the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.queue.get(no_ack=True)
            if message is not None:
                return message.delivery_info["routing_key"], message.payload
            eventlet.sleep(0.01)
        raise AssertionError(f"no message within {timeout}s")

    def pending(self):
        """How many messages wait in the queue right now."""
        return self.queue.queue_declare(passive=True).message_count

    def close(self):
        self.connection.close()


def wait_until(predicate, timeout=5.0, interval=0.02):
    """Poll `predicate` until it returns a truthy value or the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        eventlet.sleep(interval)
