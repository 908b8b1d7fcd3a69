"""Who is on the other end of a request: the client's address.

It is the connection's peer (`REMOTE_ADDR`), which no client can forge.
Behind a reverse proxy the peer is the proxy: only when it is one of
`TRUSTED_PROXIES` is `X-Forwarded-For` read, from the right (the hop the
proxy added last), skipping trusted proxies, so the address is the first
one no trusted proxy vouches for. An untrusted peer's header is ignored:
anyone can send one.
"""
from ipaddress import ip_address


def client_address(environ, trusted_proxies=()):
    """The client's address of the WSGI `environ` (a string)."""
    peer = environ.get("REMOTE_ADDR", "")
    if not _trusted(peer, trusted_proxies):
        return peer
    forwarded = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([hop for hop in forwarded if hop]):
        if not _trusted(hop, trusted_proxies):
            return hop
    return peer


def _trusted(address, networks):
    try:
        address = ip_address(address)
    except ValueError:
        return False
    return any(address in network for network in networks)
