"""The webhooks service's public face: `rpc`, `schemas`, `errors`, `messages`."""
