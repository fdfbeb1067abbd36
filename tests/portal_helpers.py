"""Shared by the contact form, portal and satisfaction tests."""

from __future__ import annotations

import itertools
import re
import uuid

_ips = itertools.count(1)
_RUN = uuid.uuid4().int % 200 + 20


def unique_ip() -> str:
    """A client address of this test alone: rate-limit counters live in Redis across tests."""
    n = next(_ips)
    return f"10.{_RUN}.{n // 250}.{n % 250 + 1}"


def patch_portal_tasks(monkeypatch) -> list[tuple[str, tuple]]:
    """The portal's Celery tasks queued after commit, as (task name, args); run them with ``run_portal_tasks``."""
    from tickets.portal import tasks

    queued: list[tuple[str, tuple]] = []
    for task in (tasks.send_sign_in_link, tasks.send_contact_acknowledgement):
        monkeypatch.setattr(task, "delay", lambda *args, _task=task: queued.append((_task.name, args)))
    return queued


def run_portal_tasks(queued: list) -> None:
    from tickets.portal import tasks

    by_name = {t.name: t for t in (tasks.send_sign_in_link, tasks.send_contact_acknowledgement)}
    while queued:
        name, args = queued.pop(0)
        by_name[name](*args)


def sign_in_as(client, customer) -> None:
    """Put the customer's portal session in the test client (what redeeming a link does)."""
    from tickets.portal.access import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = {str(customer.organization_id): customer.pk}
    session.save()


LINK = re.compile(r"https?://[^\s\"<>]+/portal/[\w-]+/login/[\w-]+/")


def sign_in_link_from(mail) -> str:
    found = LINK.search(mail.body)
    assert found, mail.body
    return found.group(0)


def open_link(client, path: str) -> str:
    """Open an emailed link as the customer's browser does (GET): the token goes into the session and the
    answer redirects to a URL without it, which is returned."""
    response = client.get(path)
    assert response.status_code == 302, response.status_code
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert token not in response["Location"]
    return response["Location"]
