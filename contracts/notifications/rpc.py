"""The notifications service over RPC (`Rpc("notifications")`). It mails
people what the roles service announces (`contracts.roles.messages`); its
only method is its health."""
from typing import Any, Protocol

Json = dict[str, Any]


class NotificationsRpc(Protocol):
    def health(self) -> Json:
        """`{"service": "notifications", "database": "ok"}`.

        Raises: Unavailable."""
