"""The webhooks service over RPC (`Rpc("webhooks")`): an event's webhooks
and their delivery log. Every method but `health` acts for the proven
actor (`shared.actors`), who must be organizer+ of the event
(`is_organizer`); the gateway checks the same first.

Raises, besides those named: InvalidWebhookData (a malformed argument),
AccessDenied, ActorNotProven."""
from typing import Any, Protocol

Json = dict[str, Any]


class WebhooksRpc(Protocol):
    def create_webhook(self, event_id: int, data: Json) -> Json:
        """`NewWebhook` from `WebhookIn`: the only answer with the secret.

        Callers: gateway.

        Raises: UnsafeUrl."""

    def list_webhooks(self, event_id: int, limit: int | None = None,
                      offset: int | None = None) -> Json:
        """A page of `Webhook`s, oldest first.

        Callers: gateway."""

    def get_webhook(self, event_id: int, webhook_id: int) -> Json:
        """`Webhook`.

        Callers: gateway.

        Raises: WebhookNotFound."""

    def update_webhook(self, event_id: int, webhook_id: int, data: Json) -> Json:
        """`Webhook` after `WebhookUpdate`; enabling it again clears its
        failing streak.

        Callers: gateway.

        Raises: WebhookNotFound, UnsafeUrl."""

    def delete_webhook(self, event_id: int, webhook_id: int) -> None:
        """The webhook and its delivery log are gone.

        Callers: gateway.

        Raises: WebhookNotFound."""

    def test_webhook(self, event_id: int, webhook_id: int) -> Json:
        """`Delivery` of a `webhook.ping`, queued behind the webhook's others.

        Callers: gateway.

        Raises: WebhookNotFound."""

    def list_deliveries(self, event_id: int, webhook_id: int, limit: int | None = None,
                        offset: int | None = None) -> Json:
        """A page of the webhook's `Delivery`s with their attempts, newest first.

        Callers: gateway.

        Raises: WebhookNotFound."""

    def retry_delivery(self, event_id: int, webhook_id: int, delivery_id: int) -> Json:
        """`Delivery`, due again now with a fresh retry schedule; its
        `webhook-id` stays the same.

        Callers: gateway.

        Raises: WebhookNotFound, DeliveryNotFound."""

    def health(self) -> Json:
        """`{"service": "webhooks", "database": "ok"}`.

        Raises: Unavailable."""
