"""The media service's public face: `rpc`, `schemas`, `errors`, `messages`."""
