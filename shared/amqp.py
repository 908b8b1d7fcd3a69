"""Who a connection to RabbitMQ logs in as.

Every service logs in as its own broker user, named after it (`events`,
`roles`, `media`, `gateway`), whose permissions `shared.broker` sets; a
service's `AMQP_URI` without a user in it gets the service's user and its
`BROKER_PASSWORD` (`ServiceSettings.broker_uri`). Every message a service
publishes carries its user as the AMQP `user_id` property, which RabbitMQ
checks against the connection's login: a consumer knows who sent it.
"""
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# for development and tests only: a service in production refuses it
DEVELOPMENT_BROKER_PASSWORD = "development-only-broker-password"
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "librabbitmq"})
DEFAULT_USER = "guest"  # whom kombu logs in as when a URI names no user


def is_amqp(uri):
    """Whether `uri` dials RabbitMQ (not, say, kombu's `memory://`)."""
    return urlsplit(uri).scheme in AMQP_SCHEMES


def user_of(uri):
    """The user a connection to `uri` logs in as."""
    username = urlsplit(uri).username
    return unquote(username) if username else DEFAULT_USER


def password_of(uri):
    password = urlsplit(uri).password
    return unquote(password) if password is not None else None


def names_user(uri):
    return urlsplit(uri).username is not None


def with_login(uri, user, password):
    """`uri` logging in as `user` with `password` (any login in it replaced)."""
    parts = urlsplit(uri)
    address = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{address}"
    return urlunsplit(parts._replace(netloc=netloc))


def without_login(uri):
    """`uri` with no user or password in it."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
