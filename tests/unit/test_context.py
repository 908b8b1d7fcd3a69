"""`RequestContext`: every worker runs with a request id, the one it was
given or a fresh one; on nameko's real `WorkerContext`, without a broker."""
from types import SimpleNamespace
from uuid import UUID

import eventlet
from nameko.containers import WorkerContext
from werkzeug.test import EnvironBuilder

from shared.context import (
    HEADER,
    RequestContext,
    bound_request_id,
    current_request_id,
    message_headers,
)

CONTAINER = SimpleNamespace(config={}, service_name="svc")
ENTRYPOINT = SimpleNamespace(method_name="work")


def worker(data=None, args=()):
    return WorkerContext(CONTAINER, None, ENTRYPOINT, args=args, data=data)


def provider(cls=RequestContext):
    provider = cls()
    provider.setup()
    return provider


def run(provider, worker_ctx, during=current_request_id):
    """Set the worker up, call `during()`, tear it down; what `during` returned."""
    provider.worker_setup(worker_ctx)
    try:
        return during()
    finally:
        provider.worker_teardown(worker_ctx)


def is_uuid(value):
    return UUID(value).hex == value


def test_a_worker_runs_with_the_request_id_it_was_given_and_only_while_it_runs():
    assert run(provider(), worker({"request_id": "r-1"})) == "r-1"
    assert current_request_id() is None


def test_a_worker_given_none_gets_a_fresh_one_that_the_calls_it_makes_carry():
    context = provider()
    first, second = worker(), worker()
    first_id = run(context, first)
    assert is_uuid(first_id)
    assert first.context_data["request_id"] == first_id
    assert run(context, second) != first_id


def test_an_unfit_request_id_is_replaced_by_a_fresh_one():
    for unfit in ["", "a" * 129, "r-1\nforged line", 42]:
        assert is_uuid(run(provider(), worker({"request_id": unfit})))


def test_concurrent_workers_each_see_their_own_request_id():
    context = provider()

    def work(request_id):
        def during():
            eventlet.sleep(0)  # let the other worker set its id up
            return current_request_id()
        return run(context, worker({"request_id": request_id}), during)

    threads = [eventlet.spawn(work, f"r-{n}") for n in range(3)]
    assert [thread.wait() for thread in threads] == ["r-0", "r-1", "r-2"]


class HttpRequestContext(RequestContext):
    """As a gateway would: the id of an `@http` worker's request header."""

    def incoming_request_id(self, worker_ctx):
        return worker_ctx.args[0].headers.get("X-Request-Id")


def test_a_subclass_takes_the_request_id_from_where_it_chooses():
    def http_worker(**headers):
        return worker(args=(EnvironBuilder(headers=headers).get_request(),))

    context = provider(HttpRequestContext)
    assert run(context, http_worker(**{"X-Request-Id": "r-1"})) == "r-1"
    assert is_uuid(run(context, http_worker(**{"X-Request-Id": "r 1"})))
    assert is_uuid(run(context, http_worker()))


def test_messages_carry_the_current_request_id_in_a_nameko_header():
    assert message_headers() == {}
    with bound_request_id("r-1"):
        assert message_headers() == {HEADER: "r-1"} == {"nameko.request_id": "r-1"}
