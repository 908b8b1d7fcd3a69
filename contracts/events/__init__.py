"""The events service's public face: `rpc`, `schemas`, `errors`, `messages`."""
