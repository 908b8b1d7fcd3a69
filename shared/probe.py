"""Whether a service can work: its database answers, the broker takes its
login, and its RPC queue has a consumer. Kubernetes runs it as the
readiness probe of a service without HTTP (deploy/k8s); it reads the
service's `config.yml` and environment, as the service does.

    python -m shared.probe events

Exit status 0 and `ready`, or 1 and what failed, in one line. The RPC queue
is shared by the service's processes, so a consumer there says that one of
them takes calls; that this process answers at all is the liveness probe's
to say (its metrics port, `shared.metrics`).
"""
import sys
from pathlib import Path

from kombu import Connection
from nameko.constants import AMQP_SSL_CONFIG_KEY
from nameko.rpc import RPC_QUEUE_TEMPLATE
from sqlalchemy import create_engine, pool, text

from shared.config import load_config
from shared.db import DATABASE_URL_KEY
from shared.settings import ServiceSettings, broker_uri, validated

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 5  # seconds for each check, below the probe's own timeout


def check(service, timeout=TIMEOUT):
    """Nothing if `service` is ready, else raise why not."""
    config = load_config(ROOT / "services" / service / "config.yml")
    settings = validated(ServiceSettings, config, service)
    if DATABASE_URL_KEY in config:
        engine = create_engine(config[DATABASE_URL_KEY], poolclass=pool.NullPool,
                               connect_args={"connect_timeout": timeout})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    with Connection(broker_uri(settings, service), connect_timeout=timeout,
                    ssl=config.get(AMQP_SSL_CONFIG_KEY) or False) as connection:
        queue = RPC_QUEUE_TEMPLATE.format(service)
        _, _, consumers = connection.default_channel.queue_declare(queue, passive=True)
        if not consumers:
            raise RuntimeError(f"no consumer on {queue}")


if __name__ == "__main__":
    try:
        check(sys.argv[1])
    except Exception as exc:
        sys.exit(f"not ready: {type(exc).__name__}: {exc}")
    print("ready")
