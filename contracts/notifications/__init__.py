"""The notifications service's public face: `rpc` and `messages`."""
