"""A real webhook receiver on loopback (HTTP, in a thread): it keeps every request it got and
answers by a plan (500 for the first attempts of each message, then 200). ``stop()`` closes
its socket (connections are refused, as a receiver that is down); ``start()`` listens again
on the same port, so the registered URL stays right."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from livetape_harness.server import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    at: float

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class WebhookReceiver:
    port: int = field(default_factory=free_port)
    fail_first: int = 0  # 500 for the first N attempts of each message id
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/livetape"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    seen = sum(1 for r in receiver.received
                               if r.headers.get("webhook-id") == headers.get("webhook-id"))
                    status = 500 if seen < receiver.fail_first else 200
                    receiver.received.append(Received(headers, body, status, time.time()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self) -> list[Received]:
        """The requests answered 2xx, in the order they came."""
        with self._lock:
            return [r for r in self.received if r.status < 300]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)
