"""Say in one line what is missing before anything starts: RabbitMQ,
PostgreSQL and Redis (the gateway's rate limits) reachable (and, for the
tests, RabbitMQ's management API).

    python scripts/preflight.py [--management]
"""
import os
import socket
import sys
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared.config import load_config  # noqa: E402

HOW_TO_START = {
    "RabbitMQ": "start it with `rabbitmq-server -detached` (or `docker compose up -d rabbitmq`)",
    "PostgreSQL": "start it with `pg_ctlcluster <version> main start` "
                  "(or `docker compose up -d postgres`)",
    "RabbitMQ management API": "enable it with `rabbitmq-plugins enable rabbitmq_management`",
    "Redis": "start it with `redis-server --daemonize yes` (or `docker compose up -d redis`)",
}


def reachable(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main(argv):
    config = load_config("services/events/config.yml")
    amqp = urlparse(config["AMQP_URI"])
    database = urlparse(config["DATABASE_URL"])
    redis = urlparse(load_config("services/gateway/config.yml")["RATE_LIMIT_STORAGE"])
    checks = [
        ("RabbitMQ", amqp.hostname, amqp.port or 5672),
        ("PostgreSQL", database.hostname, database.port or 5432),
    ]
    if redis.scheme.startswith("redis"):
        checks.append(("Redis", redis.hostname, redis.port or 6379))
    if "--management" in argv:
        checks.append(("RabbitMQ management API", amqp.hostname, 15672))
    missing = [(name, host, port) for name, host, port in checks if not reachable(host, port)]
    for name, host, port in missing:
        print(f"{name} is not reachable at {host}:{port}: {HOW_TO_START[name]}.", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
