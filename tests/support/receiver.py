"""A webhook receiver on loopback for tests and benchmarks: a threaded
`http.server` that records every POST (path, headers, body, when it
arrived) and answers as each path's script says: `script("/flaky", [500,
500, 500, 200])` answers those statuses in turn (then 200), `"hang"`
holds the request without answering (until `close`)."""
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    body: bytes
    at: float  # time.time() when it arrived

    def verify(self, secret):
        """The payload, once the signature checks out (standardwebhooks)."""
        from standardwebhooks import Webhook

        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(self):
        self.received = []
        self._scripts = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def close(self):
        self._closed.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def script(self, path, answers):
        """Answer POSTs to `path` with `answers` in turn (a status, or HANG)."""
        with self._lock:
            self._scripts[path] = list(answers)

    def at(self, path):
        """What arrived at `path`, in order."""
        with self._lock:
            return [item for item in self.received if item.path == path]

    def _next_answer(self, path):
        with self._lock:
            script = self._scripts.get(path)
            return script.pop(0) if script and len(script) > 1 else (
                script[0] if script else 200)

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = receiver._next_answer(self.path)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body,
                                                      time.time()))
                if answer == HANG:
                    receiver._closed.wait()
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        return Handler
