"""A TCP proxy the tests control, to cut, delay and restore a service's
connection to RabbitMQ or PostgreSQL without touching the shared servers."""
import time

import eventlet
from eventlet.green import socket


class TcpProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = eventlet.listen(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = set()
        self.open = True
        self.latency = 0.0
        self._acceptor = eventlet.spawn(self._accept)

    def cut(self):
        """Drop every connection and refuse new ones until `restore()`.
        Returns once the dropped ones are closed: a socket closed after
        `restore()` could take a new connection's file descriptor with it
        (eventlet's hub knows sockets by descriptor)."""
        self.open = False
        for sock in list(self.connections):
            _shutdown(sock)
        deadline = time.monotonic() + 5
        while self.connections and time.monotonic() < deadline:
            eventlet.sleep(0.001)

    def restore(self):
        self.open = True
        self.latency = 0.0

    def delay(self, seconds):
        """Hold every chunk of data `seconds` before passing it on."""
        self.latency = seconds

    def close(self):
        self.cut()
        self._acceptor.kill()
        self.listener.close()

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.connections.update((client, upstream))
            eventlet.spawn(self._pipe, client, upstream)
            eventlet.spawn(self._pipe, upstream, client)

    def _pipe(self, source, sink):
        # Each socket is read by one pipe and closed by that pipe only;
        # the other side is woken by a shutdown, never closed under it.
        try:
            while data := source.recv(65536):
                if self.latency:
                    eventlet.sleep(self.latency)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shutdown(sink)
            _shutdown(source)
            self.connections.discard(source)
            source.close()


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
