"""The roles service's public face: `rpc`, `schemas`, `errors`, `messages`."""
