"""Where a webhook may post: its URL checked when it is set, and its host
resolved and checked again at every delivery, which then connects to the
address checked (a name that resolves elsewhere a moment later changes
nothing: no DNS rebinding).

An address is refused unless it is public (`ipaddress`' `is_global`, not
multicast): loopback (allowed by `WEBHOOK_ALLOW_LOOPBACK` alone), private
networks, link-local (the cloud metadata service, 169.254.169.254), shared,
reserved and unspecified addresses all are; an IPv4-mapped IPv6 address is
judged as its IPv4 one. A host with any refused address is refused."""
import ipaddress
import socket
from urllib.parse import urlsplit

from contracts.webhooks.errors import UnsafeUrl


def checked_url(url, settings):
    """`(scheme, host, port)` of `url`, once its scheme is allowed; else UnsafeUrl."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed `[` of an IPv6 address, say
        raise UnsafeUrl("the URL is not well-formed") from None
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl(f"the URL must start with {' or '.join(f'{s}://' for s in allowed)}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("the URL's port is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise UnsafeUrl("the URL names no host")
    return parts.scheme, parts.hostname, port


def safe_address(host, port, settings, resolve=None):
    """The address to connect to for `host`: the first it resolves to, once
    every one is allowed; else UnsafeUrl."""
    addresses = (resolve or _resolve)(host, port)
    if not addresses:
        raise UnsafeUrl(f"{host} resolves to no address")
    for address in addresses:
        if not allowed(address, settings.WEBHOOK_ALLOW_LOOPBACK):
            raise UnsafeUrl(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


def allowed(address, allow_loopback=False):
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def _resolve(host, port):
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):  # ValueError: a NUL in the name
        return []
    return list(dict.fromkeys(info[4][0] for info in found))


def check(url, settings, resolve=None):
    """Refuse (UnsafeUrl) a URL the service would not post to now."""
    _, host, port = checked_url(url, settings)
    safe_address(host, port, settings, resolve)
