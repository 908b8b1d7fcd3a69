"""Each service's public face, and the vocabulary they share.

`contracts.<service>` holds what other services and clients may rely on:
its RPC interface (`rpc.py`, a `typing.Protocol`), the schemas callers send
and read (`schemas.py`), the errors that cross RPC (`errors.py`) and the
messages it publishes (`messages.py`). `vocabulary` names what every
service shares: roles, permissions, image slots and their URL fields, the
kinds of child of an event. `errors` holds the errors several services
raise alike.

The rule (import-linter checks it in `make lint`): a service imports
`contracts` and `shared`, never another service; `contracts` imports only
`shared`.
"""
