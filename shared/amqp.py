"""Who a connection to RabbitMQ logs in as.

Every service logs in as its own broker user, named after it (`events`,
`roles`, `media`, `gateway`), whose permissions `shared.broker` sets; a
service's `AMQP_URI` without a user in it gets the service's user and its
`BROKER_PASSWORD` (`ServiceSettings.broker_uri`). Every message a service
publishes carries its user as the AMQP `user_id` property, which RabbitMQ
checks against the connection's login: a consumer knows who sent it.

`AMQP_URI` may list several addresses of one RabbitMQ cluster separated by
`;` (`amqp://h1:5672/v;amqp://h2:5672/v`): kombu connects to the first that
answers and fails over along the list. Each address carries the same login.
"""
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# for development and tests only: a service in production refuses it
DEVELOPMENT_BROKER_PASSWORD = "development-only-broker-password"
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "librabbitmq"})
DEFAULT_USER = "guest"  # whom kombu logs in as when a URI names no user


def addresses(uri):
    """The broker addresses `uri` lists (`;`-separated), in order."""
    return [address.strip() for address in uri.split(";") if address.strip()]


def _first(uri):
    return urlsplit(addresses(uri)[0] if addresses(uri) else uri)


def is_amqp(uri):
    """Whether `uri` dials RabbitMQ (not, say, kombu's `memory://`)."""
    return _first(uri).scheme in AMQP_SCHEMES


def user_of(uri):
    """The user a connection to `uri` logs in as."""
    username = _first(uri).username
    return unquote(username) if username else DEFAULT_USER


def password_of(uri):
    password = _first(uri).password
    return unquote(password) if password is not None else None


def names_user(uri):
    return _first(uri).username is not None


def with_login(uri, user, password):
    """`uri` logging in as `user` with `password` (any login in it replaced),
    at each of its addresses."""
    login = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    return ";".join(_with_netloc(address, lambda host: login + host)
                    for address in addresses(uri))


def without_login(uri):
    """`uri` with no user or password in it."""
    return ";".join(_with_netloc(address, lambda host: host) for address in addresses(uri))


def _with_netloc(address, netloc):
    parts = urlsplit(address)
    return urlunsplit(parts._replace(netloc=netloc(parts.netloc.rpartition("@")[2])))
