"""Each service's public face, and the vocabulary they share.

`contracts.<service>` holds what other services and clients may rely on:
its RPC interface (`rpc.py`, a `typing.Protocol`), the schemas callers send
and read (`schemas.py`), the errors that cross RPC (`errors.py`) and the
messages it publishes (`messages.py`). `vocabulary` names what every
service shares: roles, permissions, image slots and their URL fields, the
kinds of child of an event. `errors` holds the errors several services
raise alike.

Who may call an RPC method: any service of the system, unless its docstring
names its callers (`Callers: gateway.`); it refuses any other with
`CallerNotAllowed` (`shared.errors`), the caller being the request's AMQP
`user_id`, which RabbitMQ checks against the sender's login (`shared.rpc`,
`@rpc(callers=...)`; a unit test keeps docstrings and decorators in step).
Which methods each service does call, the broker's permissions allow and
nothing more (`shared.broker.CALLS`).

The rule (import-linter checks it in `make lint`): a service imports
`contracts` and `shared`, never another service; `contracts` imports only
`shared`.
"""
