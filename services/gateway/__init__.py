"""The gateway service: the public HTTP API in front of the others."""
