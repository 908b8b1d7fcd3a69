"""A Redis of the test's own: `redis-server` on a free port, in memory
only, to stop, pause and start again (the machine's Redis, which other
systems count on, is never touched)."""
import signal
import subprocess
import time

import redis

from tests.support.system import free_port


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, timeout=10):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not come up")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.process is not None:
            self.resume()  # a paused server takes its TERM only once it runs
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def pause(self):
        """SIGSTOP: the port still takes connections, nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def answers(self):
        try:
            with redis.Redis(port=self.port, socket_timeout=0.5) as client:
                return client.ping()
        except redis.RedisError:
            return False
