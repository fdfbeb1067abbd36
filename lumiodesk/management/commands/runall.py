"""Run the web server, a Celery worker, Celery beat and the SMTP receiver in the foreground; Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

from django.conf import settings
from django.core.management.base import BaseCommand

DEMO_LOGINS = ("admin", "manager", "agent", "viewer")


class Command(BaseCommand):
    help = "Start web, Celery worker and Celery beat together (used by `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("WEB_ADDR", "127.0.0.1:8000"))

    def handle(self, *args, addr: str, **options):
        py = sys.executable
        beat_schedule = os.path.join(tempfile.gettempdir(), "lumiodesk-celerybeat-schedule")
        commands = {
            "web": [py, "manage.py", "runserver", addr, "--noreload"],
            "worker": [py, "-m", "celery", "-A", "lumiodesk", "worker", "-l", "info", "--concurrency", "2",
                       "-n", "lumiodesk@%h"],
            "beat": [py, "-m", "celery", "-A", "lumiodesk", "beat", "-l", "info", "-s", beat_schedule],
            "smtpd": [py, "manage.py", "smtpd"],
        }
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            if stopping:
                return
            stopping = True
            self.stdout.write("\nStopping web, worker, beat and smtpd ...")
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for p in procs.values():
                try:
                    p.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    p.kill()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, start_new_session=True)

        url = f"http://{addr}/"
        self.stdout.write(self.style.SUCCESS(f"\nLumioDesk is starting on {url}"))
        self.stdout.write("Demo logins (password: demo-lumiodesk):")
        for who in DEMO_LOGINS:
            self.stdout.write(f"  {who}@lumiodesk.test")
        self.stdout.write(f"Inbound SMTP for forwarded mail: {settings.SMTP_INBOUND_HOST}:{settings.SMTP_INBOUND_PORT}")
        self.stdout.write("Press Ctrl-C to stop web, worker, beat and the SMTP receiver.\n")

        try:
            while not stopping:
                for name, p in procs.items():
                    if p.poll() is not None:
                        self.stderr.write(f"{name} exited with code {p.returncode}; stopping the others.")
                        stop()
                        break
                time.sleep(0.5)
        finally:
            stop()
