"""Talk to RabbitMQ from a test the way the system does: publish an event
message as the outbox relay would, and look at how many messages wait in a
queue."""
from amqp.exceptions import NotFound
from kombu import Connection, Exchange


def publish_event(amqp_uri, payload, message_id, source="events", event_type="event.created"):
    """Publish `payload` (a JSON-ready dict) on `source`'s nameko event
    exchange, with the AMQP `message_id` property set as the relay sets it,
    and wait for the broker's confirm."""
    exchange = Exchange(f"{source}.events", type="topic", durable=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(
            payload,
            exchange=exchange,
            routing_key=event_type,
            declare=[exchange],
            serializer="json",
            message_id=str(message_id),
            delivery_mode=2,
        )


def queue_depth(amqp_uri, queue_name):
    """How many messages are ready in `queue_name`, or None if there is no
    such queue. Unacked messages are not counted: stop the consumers first
    to see everything that could still be delivered."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=queue_name, passive=True).message_count
        except NotFound:
            return None
        finally:
            if channel.is_open:
                channel.close()
