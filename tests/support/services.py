"""Services under test: a nameko container on the real PostgreSQL and
RabbitMQ, called at its entrypoints as plain functions."""
from nameko.testing.services import entrypoint_hook, replace_dependencies

from shared.actors import ACTOR_KEY, DEVELOPMENT_SIGNING_KEY, ActorSigner
from shared.context import REQUEST_ID_KEY, new_request_id
from tests.support.broker import CallerProxy

SIGNER = ActorSigner(DEVELOPMENT_SIGNING_KEY)  # the key tests' services trust


def proof_of(user_id, request_id=None):
    """The context data of a call the gateway made for `user_id` (a user
    dict or id): the request id and the signed proof of who acts."""
    user_id = user_id["id"] if isinstance(user_id, dict) else user_id
    request_id = request_id or new_request_id()
    return {REQUEST_ID_KEY: request_id, ACTOR_KEY: SIGNER.sign(user_id, request_id)}


class Entrypoints:
    """The container's RPC methods as plain calls: `events.get_event(ref)`;
    `events.acting(user).update_event(ref, data)` calls as the gateway
    does for a signed-in user."""

    def __init__(self, container, context_data=None):
        self.container = container
        self.context_data = context_data

    def acting(self, user_id):
        return Entrypoints(self.container, proof_of(user_id))

    def __getattr__(self, method):
        def call(*args, **kwargs):
            with entrypoint_hook(self.container, method,
                                 context_data=self.context_data) as entrypoint:
                return entrypoint(*args, **kwargs)
        return call


def start_service(container_factory, service_class, config, without=()):
    """Start the service, its `without` dependencies replaced by mocks."""
    container = container_factory(service_class, config)
    if without:
        replace_dependencies(container, *without)
    container.start()
    return Entrypoints(container)


class Remote:
    """A service over RPC through the broker, as another service (`caller`,
    the gateway unless said) calls it:
    `with Remote("events", config) as events: events.get_event(ref)`, and
    `events.acting(user).update_event(ref, data)` with the proof of who
    acts (each such call on a connection of its own)."""

    def __init__(self, service, config, context_data=None, caller="gateway", **options):
        self.service, self.config, self.options = service, config, options
        self.context_data, self.caller = context_data, caller

    def __enter__(self):
        self._client = CallerProxy(self.service, self.config, caller=self.caller,
                                   context_data=self.context_data, **self.options)
        self._proxy = self._client.__enter__()
        return self

    def __exit__(self, *exc_info):
        self._client.__exit__(*exc_info)

    def acting(self, user_id):
        return _Once(Remote(self.service, self.config, proof_of(user_id), self.caller,
                            **self.options))

    def __getattr__(self, method):
        return getattr(self._proxy, method)


class _Once:
    def __init__(self, remote):
        self._remote = remote

    def __getattr__(self, method):
        def call(*args, **kwargs):
            with self._remote as remote:
                return getattr(remote, method)(*args, **kwargs)
        return call


def starter(container_factory, service_class, config):
    """`start()` → a running container of `service_class`, its queues
    declared and bound by a first container that stopped, so that what a
    test publishes before it starts waits in them."""
    first = container_factory(service_class, config)
    first.start()
    first.stop()

    def start():
        container = container_factory(service_class, config)
        container.start()
        return container
    return start
