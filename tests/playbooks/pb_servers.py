"""Real local servers for the delivery tests: an SMTP server (aiosmtpd) and an HTTP server
recording every request, able to fail the first N requests or to hold one request until
released (to kill a worker mid-delivery)."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPRecorder:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[dict] = []
        rec = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = message_from_bytes(envelope.content)
                rec.messages.append({
                    "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                    "subject": str(make_header(decode_header(msg["Subject"]))),
                    "language": msg["Content-Language"], "message_id": msg["Message-ID"],
                    "body": msg.get_payload(decode=True).decode(msg.get_content_charset() or "utf-8"),
                })
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class HTTPRecorder:
    """Records (headers, body) of each POST; ``fail_first`` requests get a 500;
    ``hold_first`` / ``hold_at=n``: request n is recorded, then held until ``release`` is set."""

    def __init__(self, fail_first: int = 0, hold_first: bool = False, hold_at: int | None = None, delay: float = 0.0):
        self.requests: list[dict] = []
        self.fail_first = fail_first
        self.delay = delay
        self.hold_at = 0 if hold_first else hold_at
        self.received = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with rec.lock:
                    n = len(rec.requests)
                    rec.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                         "json": json.loads(body)})
                if rec.hold_at is not None and n == rec.hold_at:
                    rec.received.set()
                    rec.release.wait(30)
                    return  # the client is dead by now; answer nothing
                if rec.delay:
                    time.sleep(rec.delay)
                code = 500 if n < rec.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def keys(self) -> list[str]:
        return [r["headers"].get("idempotency-key") for r in self.requests]
