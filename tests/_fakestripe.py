"""A tiny fake of the Stripe API on loopback, for the official `stripe` library to talk to (no network).

It serves what Billed uses: POST /v1/checkout/sessions (honouring Idempotency-Key the way Stripe does: the same
key returns the same response) and GET /v1/events (filtered by created[gte], paginated with limit and
starting_after, newest first). `fail` is a queue of status codes answered before the real response (429, 503),
to test retries; every request is kept in `requests`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Fake:
    events: list[dict[str, Any]] = field(default_factory=list)
    fail: list[int] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], dict[str, list[str]]]] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> session
    url: str = ""

    def event(self, eid: str, kind: str, created: int, obj: dict[str, Any]) -> None:
        self.events.append({"id": eid, "object": "event", "type": kind, "created": created,
                            "data": {"object": obj}, "livemode": False, "api_version": "2025-01-27"})


def payment_intent(pid: str, number: str | None, amount: int, currency: str = "eur", created: int = 0) -> dict:
    return {"id": pid, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "currency": currency, "status": "succeeded", "created": created,
            "metadata": {"billed_number": number} if number else {}, "latest_charge": "ch_" + pid[3:]}


def refund(rid: str, pid: str, amount: int, currency: str = "eur", created: int = 0,
           status: str = "succeeded") -> dict:
    return {"id": rid, "object": "refund", "amount": amount, "currency": currency, "payment_intent": pid,
            "status": status, "created": created}


def _handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{len(fake.requests)}")
            self.end_headers()
            self.wfile.write(data)

        def _record(self, form: dict[str, list[str]]) -> bool:
            fake.requests.append((self.command, urlparse(self.path).path, dict(self.headers), form))
            if fake.fail:
                status = fake.fail.pop(0)
                kind = "rate_limit_error" if status == 429 else "api_error"
                self._reply(status, {"error": {"type": kind, "message": f"fake {status}"}})
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if not self._record(query):
                return
            if url.path != "/v1/events":
                self._reply(404, {"error": {"type": "invalid_request_error", "message": "no such route"}})
                return
            since = int(query.get("created[gte]", ["0"])[0])
            kinds = {v for k, vs in query.items() if k.startswith("types[") for v in vs}
            rows = sorted((e for e in fake.events if e["created"] >= since and (not kinds or e["type"] in kinds)),
                          key=lambda e: (-e["created"], e["id"]))
            after = query.get("starting_after", [None])[0]
            if after is not None:
                rows = rows[[e["id"] for e in rows].index(after) + 1:]
            limit = int(query.get("limit", ["10"])[0])
            self._reply(200, {"object": "list", "url": "/v1/events", "data": rows[:limit],
                              "has_more": len(rows) > limit})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if not self._record(form):
                return
            key = self.headers.get("Idempotency-Key") or f"none-{len(fake.requests)}"
            if key not in fake.sessions:
                sid = f"cs_test_{len(fake.sessions) + 1}"
                fake.sessions[key] = {"id": sid, "object": "checkout.session", "mode": "payment",
                                      "url": f"https://checkout.stripe.test/c/pay/{sid}",
                                      "amount_total": int(form["line_items[0][price_data][unit_amount]"][0]),
                                      "currency": form["line_items[0][price_data][currency]"][0],
                                      "metadata": {"billed_number": form["metadata[billed_number]"][0]}}
            self._reply(200, fake.sessions[key])

    return Handler


@contextmanager
def serve() -> Iterator[Fake]:
    fake = Fake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
