"""``python manage.py widget_bench``: the chat widget's public endpoints under 50 concurrent visitors.

``make bench`` runs it with DATABASE_URL pointing at ``lumiodesk_bench`` (it refuses any database whose
name does not contain "bench"). It seeds, once, an organization "Widget Bench" with the LumioDesk
documentation as its knowledge base and a widget allowed on 127.0.0.1; opens one conversation per
visitor (through ``tickets.chat.services``, so the rate limit on starting conversations does not get in
the way); starts a real server on loopback — gunicorn, 4 workers x 4 threads (gthread) —
and drives it from ``--visitors`` threads, each with its own keep-alive connection, for ``--seconds``:

- ``suggest``: what the visitor types, a growing prefix of a question (the frame asks after 300 ms idle);
- ``poll``: ``GET conversation?after=<last id>``, the frame's 1.5 s poll (here without waiting);
- ``send``: a visitor message every 8 to 15 s (a busy chat; the per-conversation limit is 30/min).

It prints median / p95 / max per endpoint (client side, loopback) and the EXPLAIN of the poll queries,
then stops the server. Target: p95 < 30 ms for suggestions.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import random
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from urllib.parse import quote

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from kb.services import import_lumiodesk_documentation
from lumiodesk.models import Organization, Plan
from lumiodesk.permissions import SystemActor
from sla.services import create_defaults
from tickets.chat import services
from tickets.chat.models import ChatConversation, ChatWidget

SLUG = "widget-bench"
ORIGIN = "http://127.0.0.1"
QUESTIONS = [
    "Comment installer le widget chat sur mon site",
    "Pourquoi mon widget ne s'affiche pas",
    "Comment connecter ma boite email support",
    "Quels sont les forfaits et leurs prix",
    "Comment exporter mes tickets en CSV",
    "Comment configurer les horaires SLA",
    "Peut-on changer de forfait en cours de mois",
    "Comment activer la double authentification",
    "Les brouillons sont-ils visibles dans le widget",
    "Comment creer une regle d'automatisation",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (loopback, our own server only)."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict, body: dict | None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(payload)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if payload:
            lines.append("Content-Type: application/json")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Time the chat widget's suggestion, poll and send endpoints under concurrent visitors (real server)."

    def add_arguments(self, parser):
        parser.add_argument("--visitors", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=20.0)
        parser.add_argument("--warmup", type=float, default=3.0)
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument("--threads", type=int, default=4)
        parser.add_argument("--flood", action="store_true", help="no pause between a visitor's requests")

    def handle(self, *args, visitors: int, seconds: float, warmup: float, workers: int, threads: int,
               flood: bool, **options):
        name = settings.DATABASES["default"]["NAME"]
        if "bench" not in name:
            raise CommandError(f"refusing to run on database {name!r}: its name must contain 'bench'")
        call_command("migrate", interactive=False, verbosity=0)
        widget, tokens = self._seed(visitors)
        port = _free_port()
        self.stdout.write(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "lumiodesk.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
             "--keep-alive", "30", "--log-level", "warning"],
            # production settings (DEBUG off), with a throw-away secret of this run
            env={**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
                 "ALLOWED_HOSTS": "127.0.0.1,localhost", "PYTHONWARNINGS": "ignore:No directory at"},
            start_new_session=True,
        )
        own_before, children_before, wall = (resource.getrusage(resource.RUSAGE_SELF),
                                             resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic())
        try:
            self._wait_ready(port, server)
            results, errors, elapsed = self._drive(port, widget.workspace_id, tokens, seconds, warmup, not flood)
            self._report(results, errors, elapsed, visitors, workers, threads, flood)
        finally:
            self._stop(server)
        own, children, wall = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN),
                               time.monotonic() - wall)

        def cpu(after, before):
            return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

        self.stdout.write(f"CPU over {wall:.0f} s: gunicorn {cpu(children, children_before):.1f} s, load generator "
                          f"{cpu(own, own_before):.1f} s (PostgreSQL and Redis not counted), {os.cpu_count()} CPUs")
        self._explain(widget)
        self.stdout.write(f"load after: {os.getloadavg()[0]:.2f} (1 min)")

    @staticmethod
    def _stop(server: subprocess.Popen) -> None:
        if server.poll() is not None:
            return
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    # --- set-up --------------------------------------------------------------------------------------

    def _seed(self, visitors: int) -> tuple[ChatWidget, list[str]]:
        org, created = Organization.objects.get_or_create(
            slug=SLUG, defaults={"name": "Widget Bench", "plan": Plan.SCALE}
        )
        if created:
            create_defaults(org.pk)
            result = import_lumiodesk_documentation(organization=org, actor=SystemActor("widget_bench"))
            self.stdout.write(f"seeded {SLUG}: {result.created} articles")
        widget = services.create_widget(organization=org, actor=SystemActor("widget_bench"),
                                        allowed_domains=["127.0.0.1"])
        # New conversations each run (their tokens are only known when created); old ones stay as history.
        tokens = []
        for i in range(visitors):
            started = services.start_conversation(
                widget=widget, name=f"Visiteur {i}", email=f"visiteur{i}@bench.test",
                message=random.choice(QUESTIONS), origin=ORIGIN,
            )
            tokens.append(started.token)
        total = ChatConversation.objects.filter(organization=org).count()
        self.stdout.write(f"{visitors} conversations opened ({total} in the organization)")
        return widget, tokens

    def _wait_ready(self, port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError("gunicorn exited at start-up")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 30 s")

    # --- the load ------------------------------------------------------------------------------------

    def _drive(self, port, workspace, tokens, seconds, warmup, pace):
        """One asyncio task per visitor, each with its own keep-alive connection: the load generator uses
        one thread, so its own scheduling adds little to the measured times (50 Python threads would)."""
        return asyncio.run(self._drive_async(port, workspace, tokens, seconds, warmup, pace))

    async def _drive_async(self, port, workspace, tokens, seconds, warmup, pace):
        results: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        loop = asyncio.get_running_loop()
        start = loop.time()
        measure_from, stop_at = start + warmup, start + warmup + seconds
        base = f"/widget/{workspace}/api/"

        async def visitor(token: str, seed: int) -> None:
            rng = random.Random(seed)
            conn = _Connection(port)
            headers = {"X-Widget-Origin": ORIGIN, "X-Widget-Token": token}
            question, typed = rng.choice(QUESTIONS), 3
            last_id = 0

            async def call(kind: str, method: str, path: str, body: dict | None = None):
                t0 = time.perf_counter()
                try:
                    status, data = await conn.request(method, path, headers, body)
                except (OSError, ValueError, asyncio.IncompleteReadError):
                    await conn.close()
                    status, data = 599, b""
                took = (time.perf_counter() - t0) * 1000
                if loop.time() >= measure_from:
                    if status < 400:
                        results[kind].append(took)
                    else:
                        errors[kind][status] += 1
                return status, data

            now = loop.time()
            next_suggest, next_poll, next_send = now + rng.uniform(0, 0.5), now + rng.uniform(0, 1.5), \
                now + rng.uniform(0, 8)
            while loop.time() < stop_at:
                if pace:  # wait for the visitor's next action
                    await asyncio.sleep(max(0.0, min(next_suggest, next_poll, next_send) - loop.time()))
                now = loop.time()
                if now >= next_suggest:
                    # typing: one more word-ish chunk of the question each time the visitor pauses
                    typed = typed + rng.randint(2, 6)
                    if typed > len(question):
                        question, typed = rng.choice(QUESTIONS), 3
                    await call("suggest", "GET", f"{base}suggest?q={quote(question[:typed])}")
                    next_suggest = now + rng.uniform(0.3, 0.8)  # the frame asks after 300 ms without a key
                if now >= next_poll:
                    status, data = await call("poll", "GET", f"{base}conversation?after={last_id}")
                    if status == 200:
                        messages = json.loads(data)["messages"]
                        if messages:
                            last_id = messages[-1]["id"]
                    next_poll = now + 1.5  # the frame's poll while the chat is open
                if now >= next_send:
                    status, data = await call("send", "POST", f"{base}conversation",
                                              {"body": f"Précision {rng.randint(1, 999)}", "after": last_id})
                    if status == 201:
                        last_id = json.loads(data)["messages"][-1]["id"]
                    next_send = now + rng.uniform(8, 15)
                if not pace:
                    await asyncio.sleep(0)
            await conn.close()

        await asyncio.gather(*(visitor(t, i) for i, t in enumerate(tokens)))
        return results, errors, seconds

    def _report(self, results, errors, elapsed, visitors, workers, threads, flood) -> None:
        how = "no pause between requests (saturation)" if flood else "paced like the widget: a suggestion per " \
            "0.3-0.8 s of typing, a poll every 1.5 s, a message every 8-15 s"
        self.stdout.write(f"\n{visitors} visitors, {how}; {elapsed:.0f} s measured, gunicorn {workers} workers x "
                          f"{threads} threads on loopback")
        self.stdout.write(f"{'endpoint':<10}{'requests':>10}{'req/s':>8}{'median':>10}{'p95':>10}{'max':>10}  errors")
        for kind in ("suggest", "poll", "send"):
            values = results.get(kind, [])
            errs = dict(errors.get(kind, {}))
            if not values:
                self.stdout.write(f"{kind:<10}{0:>10}  (no successful request) {errs}")
                continue
            self.stdout.write(
                f"{kind:<10}{len(values):>10}{len(values) / elapsed:>8.0f}{statistics.median(values):>8.1f}ms"
                f"{_pct(values, 95):>8.1f}ms{max(values):>8.1f}ms  {errs or '-'}"
            )
        suggest = results.get("suggest") or [float("inf")]
        verdict = "OK" if _pct(suggest, 95) < 30 else "MISSED"
        self.stdout.write(f"target suggest p95 < 30 ms: {verdict}\n")

    def _explain(self, widget: ChatWidget) -> None:
        """The plans of the poll's queries: each must use an index."""
        conversation = ChatConversation.objects.filter(widget=widget).order_by("-id").first()
        queries = {
            "conversation by token": (
                "SELECT id FROM tickets_chatconversation WHERE widget_id = %s AND visitor_key = %s",
                [widget.pk, conversation.visitor_key]),
            "messages after id": (
                "SELECT id FROM tickets_message WHERE ticket_id = %s AND id > %s AND kind <> 'note' "
                "ORDER BY id LIMIT 200", [conversation.ticket_id, 0]),
            "waiting chats (badge)": (
                "SELECT count(*) FROM tickets_chatconversation WHERE organization_id = %s "
                "AND waiting_since IS NOT NULL", [widget.organization_id]),
        }
        with connection.cursor() as cur:
            for label, (sql, params) in queries.items():
                cur.execute("EXPLAIN " + sql, params)
                plan = " / ".join(row[0].strip() for row in cur.fetchall()[:3])
                self.stdout.write(f"EXPLAIN {label}: {plan}")
