"""A connection lost just as a message is acked does not kill the service:
nameko 2.14 catches amqp's `ConnectionError` only, so a socket's
`BrokenPipeError` went on, out of the thread, and the container died (seen
when the broker was cut while copies were under way). No broker: a channel
whose socket is gone."""
from kombu.message import Message

from shared.rpc import ReplyListener, RpcEntrypoint


class LostChannel:
    connection = object()  # not yet known to be gone
    no_ack_consumers = None

    def basic_ack(self, *args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")


def a_message(**delivery_info):
    return Message(body=b"{}", channel=LostChannel(), delivery_tag=1,
                   properties={"correlation_id": "call-1"}, delivery_info=delivery_info)


def test_a_reply_acked_on_a_lost_connection_still_reaches_its_caller():
    listener = ReplyListener()
    waiting = listener.get_reply_event("call-1")

    listener.handle_message({"result": "done", "error": None}, a_message())

    assert waiting.ready() and waiting.wait() == {"result": "done", "error": None}


def test_a_redelivered_request_dropped_on_a_lost_connection_raises_nothing():
    RpcEntrypoint().handle_message({"args": [], "kwargs": {}}, a_message(redelivered=True))
