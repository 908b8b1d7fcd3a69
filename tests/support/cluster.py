"""A RabbitMQ cluster of the test's own: three nodes on this machine beside
its usual broker, which is never touched.

Each node has its own name (`rabbit-{name}{n}@localhost`), its own AMQP and
distribution ports, its own data folders under a temporary directory, no
plugins, and `RABBITMQ_CONF_ENV_FILE=/dev/null` (the machine's env file
pins the node name). The nodes and the command-line tools share the Erlang
cookie of the user they run as. Nodes 2 and 3 join node 1. A System runs
on it with `System(..., cluster=cluster)`: its vhost, users and
permissions are imported as definitions (`rabbitmqctl import_definitions`:
no management plugin needed), as `shared.broker setup` would make them.
`close` stops every node it started, by name, and removes its folders.
"""
import base64
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from kombu import Connection, Exchange

from shared import broker
from shared.amqp import DEVELOPMENT_BROKER_PASSWORD

QUIET_PORTS = range(20000, 32000)  # below Linux's ephemeral range: no outgoing socket takes one


class Cluster:
    def __init__(self, name="qq", size=3):
        self.names = [f"rabbit-{name}{n}@localhost" for n in range(1, size + 1)]
        self.root = None
        self.ports = {}
        self.processes = {}

    def start(self, timeout=90):
        self.root = Path(tempfile.mkdtemp(prefix="rabbit-cluster-"))
        self.root.chmod(0o777)  # the Debian scripts run the node as the `rabbitmq` user
        plugins = self._file("plugins", "[].")
        try:
            for node in self.names:
                self._start(node, plugins)
            for node in self.names:
                self._await(node, timeout)
            for node in self.names[1:]:
                for command in (["stop_app"], ["join_cluster", self.names[0]], ["start_app"]):
                    self.ctl(node, *command)
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, node, plugins):
        amqp, dist = quiet_port(), quiet_port()
        self.ports[node] = amqp
        folder = self.root / node.partition("@")[0]
        config = self._file(f"{folder.name}.conf",
                            f"listeners.tcp.default = 127.0.0.1:{amqp}\nloopback_users = none\n")
        env = {**os.environ, "RABBITMQ_NODENAME": node, "RABBITMQ_CONF_ENV_FILE": "/dev/null",
               "RABBITMQ_BASE": str(folder), "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
               "RABBITMQ_LOG_BASE": str(folder / "log"), "RABBITMQ_CONFIG_FILE": str(config),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins), "RABBITMQ_DIST_PORT": str(dist)}
        with open(self.root / f"{folder.name}.out", "w") as log:
            self.processes[node] = subprocess.Popen(
                ["rabbitmq-server"], env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def _file(self, name, text):
        path = self.root / name
        path.write_text(text)
        path.chmod(0o644)
        return path

    def _await(self, node, timeout):
        """Until the node has booted (`await_startup` refuses a node not yet
        known to epmd: asked again until the deadline)."""
        deadline = time.monotonic() + timeout
        while self.ctl(node, "await_startup", "--timeout", "10", check=False).returncode:
            if time.monotonic() > deadline or self.processes[node].poll() is not None:
                raise RuntimeError(f"{node} did not start:\n{self.log_tail(node)}")
            time.sleep(0.5)

    def ctl(self, node, *args, check=True, tool="rabbitmqctl"):
        return subprocess.run([tool, "-q", "-n", node, *args], capture_output=True, text=True,
                              check=check, timeout=120)

    # what a System and a test use

    def amqp_uri(self, vhost, nodes=None):
        """Every node's address, `;`-separated: kombu fails over along them."""
        return ";".join(f"pyamqp://127.0.0.1:{self.ports[node]}/{vhost}"
                        for node in nodes or self.names)

    def running(self):
        return [node for node in self.names if node in self.processes]

    def create_vhost(self, vhost):
        """`vhost` with the services' users and permissions, as `make db`
        makes them, `guest` with every permission, and the shared exchanges."""
        users = {user: DEVELOPMENT_BROKER_PASSWORD for user in broker.table()}
        definitions = {
            "vhosts": [{"name": vhost}],
            "users": [{"name": user, "password_hash": password_hash(password), "tags": [],
                       "hashing_algorithm": "rabbit_password_hashing_sha256"}
                      for user, password in users.items()],
            "permissions": [{"user": "guest", "vhost": vhost, "configure": ".*", "write": ".*",
                             "read": ".*"}] + [
                {"user": user, "vhost": vhost, "configure": grant.configure,
                 "write": grant.write, "read": grant.read}
                for user, grant in broker.table().items()],
            "topic_permissions": [
                {"user": user, "vhost": vhost, "exchange": exchange, "write": write, "read": read}
                for user, grant in broker.table().items()
                for exchange, (write, read) in grant.topics.items()],
        }
        path = self._file(f"{vhost}.json", json.dumps(definitions))
        self.ctl(self.running()[0], "import_definitions", str(path))
        with Connection(self.amqp_uri(vhost)) as connection:
            channel = connection.channel()
            for name, kind in broker.exchanges().items():
                Exchange(name, type=kind, durable=True)(channel).declare()

    def delete_vhost(self, vhost):
        """Nothing: the vhost goes with the cluster's folders (deleting one
        whose quorum queues lost a member waits on that member)."""

    def leaders(self, vhost):
        """Queue name -> the node leading it, for the vhost's quorum queues."""
        listed = self.ctl(self.running()[0], "list_queues", "-p", vhost, "name", "type",
                          "leader", "--formatter", "json").stdout
        return {queue["name"]: queue["leader"] for queue in json.loads(listed)
                if queue["type"] == "quorum"}

    def stop_node(self, node, timeout=60):
        """Stop `node` by its name, and wait for its process to end."""
        self.ctl(node, "stop", check=False)
        self.processes[node].wait(timeout=timeout)
        del self.processes[node]

    def close(self):
        for node in list(self.processes):
            try:
                self.stop_node(node)
            except subprocess.TimeoutExpired:  # the last resort: its own process group
                os.killpg(self.processes.pop(node).pid, signal.SIGKILL)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def log_tail(self, node, lines=30):
        out = self.root / f"{node.partition('@')[0]}.out"
        return "\n".join(out.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()


def password_hash(password):
    """RabbitMQ's `rabbit_password_hashing_sha256` of `password`."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def quiet_port():
    """A free port outside the ephemeral range, so that between now and the
    node's listening no outgoing connection takes it as its own."""
    while True:
        port = random.choice(QUIET_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
