"""Services under test: a nameko container on the real PostgreSQL and
RabbitMQ, called at its entrypoints as plain functions."""
from nameko.testing.services import entrypoint_hook, replace_dependencies


class Entrypoints:
    """The container's RPC methods as plain calls: `events.get_event(ref)`."""

    def __init__(self, container):
        self.container = container

    def __getattr__(self, method):
        def call(*args, **kwargs):
            with entrypoint_hook(self.container, method) as entrypoint:
                return entrypoint(*args, **kwargs)
        return call


def start_service(container_factory, service_class, config, without=()):
    """Start the service, its `without` dependencies replaced by mocks."""
    container = container_factory(service_class, config)
    if without:
        replace_dependencies(container, *without)
    container.start()
    return Entrypoints(container)
