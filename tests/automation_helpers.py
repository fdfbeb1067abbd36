"""Helpers of the automations and webhooks tests: rules in one call, a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from factories import SYSTEM, acting

from automations import services
from automations.models import Match, Trigger


def rule(org, *conditions, actions, events=(Trigger.CREATED,), name=None, match=Match.ALL, stop_after=False,
         active=True, actor=None):
    """An automation rule through the service (validated like one made in the settings page);
    ``actor``: a user (as that member) or, by default, the system."""
    rule.n = getattr(rule, "n", 0) + 1
    return services.create_rule(
        organization=org, actor=SYSTEM if actor is None else acting(actor, org), name=name or f"Règle {rule.n}",
        conditions=list(conditions),
        actions=list(actions), events=events, match=match, stop_after=stop_after, is_active=active,
    )


def queued_deliveries(monkeypatch) -> list[int]:
    """Webhook delivery ids handed to Celery (``deliver_webhook.delay``) instead of the broker."""
    from automations.tasks import deliver_webhook

    queued: list[int] = []
    monkeypatch.setattr(deliver_webhook, "delay", lambda pk: queued.append(pk))
    return queued


def drain(queued: list[int]) -> list[str]:
    """Run the queued deliveries here (one attempt each), as the worker would."""
    from automations.tasks import deliver_webhook

    results = []
    while queued:
        results.append(deliver_webhook(queued.pop(0)))
    return results


@dataclass
class Received:
    path: str
    headers: object  # email.message.Message: case-insensitive
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that answers with ``responses`` in turn (then 200), recording every request.

    A response is a status code, ``("redirect", url)`` or ``("sleep", seconds)`` (answers 200 too late).
    """

    responses: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/lumiodesk"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    # self.headers is case-insensitive, like a web framework's (HTTP header names are).
                    receiver.received.append(Received(self.path, self.headers, body))
                    response = receiver.responses.pop(0) if receiver.responses else 200
                if isinstance(response, tuple) and response[0] == "sleep":
                    time.sleep(response[1])
                    response = 200
                if isinstance(response, tuple) and response[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", response[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = b'{"ok": true}' if response < 300 else b"boom"
                self.send_response(response)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # serve_forever() looks for shutdown() every poll_interval: 0.5 s by default, which each test using a
        # receiver waited at its end (~0.4 s a test over the webhook tests); 20 ms costs nothing while idle.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
