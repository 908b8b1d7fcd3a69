"""The webhooks service's errors; each crosses RPC as itself (shared.errors).
It also raises `contracts.errors.AccessDenied`."""
from shared.errors import InvalidInput, NotFound


class InvalidWebhookData(InvalidInput):
    code = "invalid_input"


class UnsafeUrl(InvalidInput):
    """A URL the service will not post to: not `https://` (unless the
    settings allow `http://`), or a host that resolves to a loopback,
    private, link-local, metadata or otherwise non-public address, or to
    none."""

    code = "unsafe_url"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"
