"""How a service's durable queues are declared: classic queues on one
RabbitMQ node, or, where `QUORUM_QUEUES` says so (the production default),
quorum queues, replicated on the nodes of a cluster, which outlive the loss
of any minority of them.

A quorum queue keeps the behaviour `shared.handlers` gives a classic one:
retries and dead letters are still copies the handler publishes. What the
broker adds:

- on a handler's queue, `x-delivery-limit`: a message delivered that many
  times more (each consumer that took it crashed or lost its connection) is
  dead-lettered by the broker to the service's dead-letter queue, where a
  classic queue would hand it out forever; `shared.deadletters` reads its
  origin from the broker's `x-death` header;
- dead-lettering (a retry queue's expiry back to the handler's queue, the
  delivery limit) `at-least-once`: the broker lets go of the message only
  once the target queue has it, so a node lost on the way loses nothing.

Declaring is what makes a queue quorum (`x-queue-type`): a queue that
exists with another type refuses the declaration (PRECONDITION_FAILED), so
switching an existing vhost means draining and deleting its queues first.
RPC reply queues stay classic: per process, short-lived, not replicated.
"""

DELIVERY_LIMIT = 20  # redeliveries of one message before the broker dead-letters it


def arguments(quorum, **queue_arguments):
    """A durable queue's `queue_arguments`: `queue_arguments`, plus, on a
    quorum queue, its type and at-least-once dead-lettering."""
    if not quorum:
        return queue_arguments
    extra = {"x-queue-type": "quorum"}
    if "x-dead-letter-exchange" in queue_arguments:
        extra |= {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    return {**queue_arguments, **extra}


def delivery_limited(quorum, dead_letter_exchange, dead_letter_routing_key):
    """A handler's queue: on a quorum queue, dead-lettered to
    `dead_letter_exchange` with `dead_letter_routing_key` after
    `DELIVERY_LIMIT` redeliveries (a classic queue has no such limit)."""
    if not quorum:
        return {}
    return arguments(True, **{"x-delivery-limit": DELIVERY_LIMIT,
                              "x-dead-letter-exchange": dead_letter_exchange,
                              "x-dead-letter-routing-key": dead_letter_routing_key})
