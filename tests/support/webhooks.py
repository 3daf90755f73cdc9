"""A webhook receiver on 127.0.0.1 for tests: records every delivery and checks its signature."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from releve.notify import verify_signature

SECRET = "webhook-secret-for-tests-0123456789"


@dataclass(frozen=True)
class Delivery:
    event: str
    payload: dict[str, Any]
    signed: bool


class Receiver:
    def __init__(self, url: str) -> None:
        self.url = url
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()

    def events(self, name: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.event == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} {name} webhook(s) expected within {timeout}s, got {self.events(name)}")


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signed = verify_signature(SECRET, self.headers.get("X-Releve-Signature", ""), body, now=time.time())
            with receiver.lock:
                receiver.deliveries.append(Delivery(self.headers.get("X-Releve-Event", ""), orjson.loads(body), signed))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
